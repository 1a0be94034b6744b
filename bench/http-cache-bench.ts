// The HTTP cache provider against the tests' HTTP cache server (bazel-remote's
// protocol), run as a child process on loopback:
//   node dist/bench/http-cache-bench.js [--files 2000 --file-bytes 2048 --big-mib 1024 --runs 3 --out DIR]
// 1. N small files uploaded (a HEAD per blob, a PUT per missing one), then
//    again from a fresh client (HEADs only);
// 2. one large blob up and down, with the peak RSS of this process (sampled):
//    it must stay far below the blob's size, since transfers stream.
// Prints the median of the runs.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { benchArgs } from './bench-args.js';
import { nullLogger, type Digest, type Sha256Hex } from '../src/core/index.js';
import { OptionRegistry, parseCommandLine, registerGlobalOptions, resolveOptions } from '../src/options/index.js';
import { createRemoteLayersFromConfig, validateRemoteOptions, type RemoteLayers } from '../src/remote/client/index.js';
import { createLocalStore, type LocalStore } from '../src/store/index.js';
import { median } from './peers/bench-runner.js';

const { values } = benchArgs(import.meta.url, {
  options: {
    files: { type: 'string', default: '2000' },
    'file-bytes': { type: 'string', default: '2048' },
    'big-mib': { type: 'string', default: '1024' },
    runs: { type: 'string', default: '3' },
    out: { type: 'string', default: join(tmpdir(), 'trews-bench-http-cache') },
  },
});
const FILES = Number(values.files);
const FILE_BYTES = Number(values['file-bytes']);
const BIG = Number(values['big-mib']) * 1024 * 1024;
const RUNS = Number(values.runs);
const OUT = values.out!;
const MiB = 1024 * 1024;
const serverModule = join(dirname(fileURLToPath(import.meta.url)), '..', 'test', 'helpers', 'http-cache-server.js');

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });

const fmt = (n: number, d = 1): string => n.toFixed(d);

interface Server {
  readonly url: string;
  stop(): Promise<void>;
}

/** The server in a process of its own, so this process's RSS is the client's alone. */
async function startServer(): Promise<Server> {
  const script = `import(${JSON.stringify(pathToFileURL(serverModule).href)}).then((m) => m.startHttpCacheServer()).then((s) => { console.log(s.url); process.on('SIGTERM', () => s.stop().then(() => process.exit(0))); });`;
  const child: ChildProcess = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /^(http:\/\/\S+)$/m.exec(out);
      if (m) resolve(m[1]!);
    });
    void exited.then(() => reject(new Error(`the HTTP cache server exited: ${out}`)));
  });
  return {
    url,
    async stop() {
      if (child.exitCode === null) process.kill(child.pid!, 'SIGTERM');
      await exited;
    },
  };
}

function layers(server: Server, local: LocalStore): RemoteLayers {
  const registry = new OptionRegistry();
  registerGlobalOptions(registry);
  const cl = parseCommandLine([], registry);
  if (!cl.ok) throw new Error(cl.failure.message);
  const env = { TREWS_REMOTE_CACHE_READ: 'true', TREWS_REMOTE_CACHE_WRITE: 'true', TREWS_REMOTE_STORE_SERVER: server.url };
  const options = resolveOptions({ registry, commandLine: cl.value, env, config: null, buildRoot: OUT, homeDir: OUT });
  if (!options.ok) throw new Error(options.failure.message);
  const config = validateRemoteOptions(options.value);
  if (!config.ok || config.value === null) throw new Error('remote options');
  return createRemoteLayersFromConfig(config.value, { store: local, logger: nullLogger });
}

async function smallFiles(run: number): Promise<{ first: number; second: number }> {
  const server = await startServer();
  const local = createLocalStore({ dir: join(OUT, `small-${run}`) });
  const digests: Digest[] = [];
  for (let i = 0; i < FILES; i++) {
    const b = Buffer.alloc(FILE_BYTES, createHash('sha256').update(`file ${run} ${i}`).digest());
    const d = { hash: createHash('sha256').update(b).digest('hex') as Sha256Hex, sizeBytes: b.byteLength };
    await local.put(d, b);
    digests.push(d);
  }
  const time = async (): Promise<number> => {
    const l = layers(server, local);
    const cas = (await l.provider()).cas;
    const t0 = performance.now();
    await cas.uploadFrom(local, digests);
    const s = (performance.now() - t0) / 1000;
    await l.close();
    return s;
  };
  const first = await time();
  const second = await time();
  await local.close();
  await server.stop();
  return { first, second };
}

function* bigChunks(): Generator<Buffer> {
  for (let off = 0, i = 0; off < BIG; off += MiB, i++) yield Buffer.alloc(Math.min(MiB, BIG - off), createHash('sha256').update(`chunk ${i}`).digest());
}

async function bigBlob(run: number): Promise<{ up: number; down: number; rssUp: number; rssDown: number }> {
  const server = await startServer();
  const h = createHash('sha256');
  for (const c of bigChunks()) h.update(c);
  const d: Digest = { hash: h.digest('hex') as Sha256Hex, sizeBytes: BIG };
  const a = createLocalStore({ dir: join(OUT, `big-a-${run}`) });
  const b = createLocalStore({ dir: join(OUT, `big-b-${run}`) });
  await a.put(d, Readable.from(bigChunks()));
  const l = layers(server, a);
  const cas = (await l.provider()).cas;
  let peak = 0;
  const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  let t0 = performance.now();
  await cas.uploadFrom(a, [d]);
  const up = (performance.now() - t0) / 1000;
  const rssUp = peak;
  peak = 0;
  t0 = performance.now();
  await cas.downloadTo(b, [d]);
  const down = (performance.now() - t0) / 1000;
  clearInterval(sample);
  if ((await b.findMissing([d])).length !== 0) throw new Error('the blob did not arrive');
  await l.close();
  await a.close();
  await b.close();
  await server.stop();
  rmSync(join(OUT, `big-a-${run}`), { recursive: true, force: true });
  rmSync(join(OUT, `big-b-${run}`), { recursive: true, force: true });
  return { up, down, rssUp, rssDown: peak };
}

const small = [];
for (let r = 0; r < RUNS; r++) small.push(await smallFiles(r));
const mb = (FILES * FILE_BYTES) / 1e6;
console.log(`## ${FILES} small files of ${FILE_BYTES} bytes (${fmt(mb)} MB), median of ${RUNS}`);
const first = median(small.map((s) => s.first));
const second = median(small.map((s) => s.second));
console.log(`first upload (HEAD + PUT each): ${fmt(first, 2)} s, ${fmt(FILES / first, 0)} files/s`);
console.log(`second upload (HEAD each):      ${fmt(second, 2)} s, ${fmt(FILES / second, 0)} files/s`);

const big = [];
for (let r = 0; r < RUNS; r++) big.push(await bigBlob(r));
const bmb = BIG / 1e6;
console.log(`## one blob of ${fmt(BIG / MiB, 0)} MiB, median of ${RUNS}`);
console.log(`up:   ${fmt(bmb / median(big.map((x) => x.up)))} MB/s, client peak RSS ${fmt(median(big.map((x) => x.rssUp)) / MiB, 0)} MiB`);
console.log(`down: ${fmt(bmb / median(big.map((x) => x.down)))} MB/s, client peak RSS ${fmt(median(big.map((x) => x.rssDown)) / MiB, 0)} MiB`);
rmSync(OUT, { recursive: true, force: true });
