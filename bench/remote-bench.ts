// The remote client against `trews remote-server` on loopback:
//   node dist/bench/remote-bench.js [--files 10000 --file-bytes 2048 --big-mib 1024 --packages 200 --runs 3 --out DIR]
//       [--skip big,small,repo,peers --peers-runs 3 --workers 2 --trews-base DIR]
// 1. upload N small files through the CAS client, then again from a fresh
//    client (a second run): the second pass must send only FindMissingBlobs;
// 2. one large blob up and down through ByteStream, with the peak RSS of the
//    client (this process, sampled) and of the server (/proc VmHWM/VmRSS);
// 3. `trews test ::` on the generated shell repo with remote_execution=true:
//    cold (empty server and local store), warm from the remote cache (fresh
//    local store), warm from the local cache; actions/s and the RPCs the
//    server saw per action (from its debug log).
// Prints medians where runs repeat; CLI figures are whole processes.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { benchArgs } from './bench-args.js';
import { nullLogger, type Digest, type Sha256Hex } from '../src/core/index.js';
import { createRemoteLayersFromConfig, validateRemoteOptions, type RemoteConfig, type RemoteLayers } from '../src/remote/client/index.js';
import { GLOBAL, OptionRegistry, parseCommandLine, registerGlobalOptions, resolveOptions } from '../src/options/index.js';
import { createLocalStore, type LocalStore } from '../src/store/index.js';
import { generateShellRepo } from './generate-shell-repo.js';
import { generatePeersRepo } from './peers/generate-peers-repo.js';
import { median } from './peers/bench-runner.js';

const { values } = benchArgs(import.meta.url, {
  options: {
    files: { type: 'string', default: '10000' },
    'file-bytes': { type: 'string', default: '2048' },
    'big-mib': { type: 'string', default: '1024' },
    packages: { type: 'string', default: '200' },
    runs: { type: 'string', default: '3' },
    out: { type: 'string', default: join(tmpdir(), 'trews-bench-remote') },
    skip: { type: 'string', default: '' },
    'peers-runs': { type: 'string', default: '3' },
    workers: { type: 'string', default: '2' },
    'trews-base': { type: 'string' },
    isolation: { type: 'string', default: 'strict' },
  },
});
const PEERS_RUNS = Number(values['peers-runs']);
const WORKERS = Number(values.workers);
const BASE = values['trews-base'];
/** The peers rounds' server isolation: `strict` (its default, bwrap per action) or `none` (as the local sandbox runs by default). */
const ISOLATION = values.isolation!;
const FILES = Number(values.files);
const FILE_BYTES = Number(values['file-bytes']);
const BIG = Number(values['big-mib']) * 1024 * 1024;
const PACKAGES = Number(values.packages);
const RUNS = Number(values.runs);
const OUT = values.out!;
const SKIP = new Set(values.skip!.split(',').filter(Boolean));
const MiB = 1024 * 1024;
const trewsBin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'trews');

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });


const fmt = (n: number, d = 1): string => n.toFixed(d);

// ---- the server ------------------------------------------------------------

interface Server {
  readonly address: string;
  readonly pid: number;
  readonly logFile: string;
  stop(): Promise<void>;
}

let servers = 0;
async function startServer(workers = 4, isolation?: string, bin = trewsBin): Promise<Server> {
  const dir = join(OUT, `server-${++servers}`);
  mkdirSync(dir, { recursive: true });
  const logFile = join(dir, 'server.log');
  const child: ChildProcess = spawn(
    bin,
    ['remote-server', '--listen', '127.0.0.1:0', '--store-dir', join(dir, 'store'), '--workers', String(workers), ...(isolation !== undefined ? ['--isolation', isolation] : []), '--log-level', 'debug', '--log-file', logFile],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const address = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', () => {
      const m = /listening on (127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    void exited.then(() => reject(new Error(`remote-server exited: ${out}`)));
  });
  return {
    address,
    pid: child.pid!,
    logFile,
    async stop() {
      if (child.exitCode === null) process.kill(child.pid!, 'SIGTERM');
      await exited;
    },
  };
}

/** The server's RPCs by method, from its debug log, after `fromByte`. */
function serverRpcs(s: Server, fromByte = 0): { counts: Record<string, number>; total: number; end: number } {
  const text = readFileSync(s.logFile, 'utf8');
  const counts: Record<string, number> = {};
  let total = 0;
  for (const m of text.slice(fromByte).matchAll(/ rpc (\w+) [A-Z_]+ /g)) {
    counts[m[1]!] = (counts[m[1]!] ?? 0) + 1;
    total++;
  }
  return { counts, total, end: text.length };
}

function procKb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

// ---- the client --------------------------------------------------------------

function optionsFor(server: Server, extra: Record<string, string> = {}): RemoteConfig {
  const registry = new OptionRegistry();
  registerGlobalOptions(registry);
  const cl = parseCommandLine([], registry);
  if (!cl.ok) throw new Error(cl.failure.message);
  const env = { TREWS_REMOTE_CACHE_READ: 'true', TREWS_REMOTE_CACHE_WRITE: 'true', TREWS_REMOTE_STORE_SERVER: `grpc://${server.address}`, ...extra };
  const options = resolveOptions({ registry, commandLine: cl.value, env, config: null, buildRoot: OUT, homeDir: OUT });
  if (!options.ok) throw new Error(options.failure.message);
  void GLOBAL;
  const config = validateRemoteOptions(options.value);
  if (!config.ok || config.value === null) throw new Error('remote options');
  return config.value;
}

function layers(server: Server, local: LocalStore): RemoteLayers {
  return createRemoteLayersFromConfig(optionsFor(server), { store: local, logger: nullLogger });
}

function withoutCapabilities(c: Readonly<Record<string, number>>): Record<string, number> {
  const out = { ...c };
  delete out['Capabilities.GetCapabilities'];
  return out;
}

// ---- 1. small files ------------------------------------------------------------

async function smallFiles(server: Server): Promise<void> {
  const local = createLocalStore({ dir: join(OUT, 'local-small') });
  const digests: Digest[] = [];
  for (let i = 0; i < FILES; i++) {
    const b = Buffer.alloc(FILE_BYTES, createHash('sha256').update(`file ${i}`).digest());
    b.write(`file ${i}\n`);
    const d = { hash: createHash('sha256').update(b).digest('hex') as Sha256Hex, sizeBytes: b.byteLength };
    await local.put(d, b);
    digests.push(d);
  }
  const mb = (FILES * FILE_BYTES) / 1e6;
  const first = layers(server, local);
  const firstCas = (await first.provider()).cas;
  let t0 = performance.now();
  const up = await firstCas.uploadFrom(local, digests);
  const t1 = (performance.now() - t0) / 1000;
  const firstCounts = withoutCapabilities(first.rpcCounts());
  await first.close();

  const second = layers(server, local);
  const secondCas = (await second.provider()).cas;
  t0 = performance.now();
  const again = await secondCas.uploadFrom(local, digests);
  const t2 = (performance.now() - t0) / 1000;
  const secondCounts = withoutCapabilities(second.rpcCounts());
  await second.close();
  await local.close();

  console.log(`\n## ${FILES} small files of ${FILE_BYTES} bytes (${fmt(mb)} MB)`);
  console.log(`first upload:  ${fmt(t1, 2)} s, ${fmt(FILES / t1, 0)} files/s, ${fmt(mb / t1)} MB/s, ${up.blobs} blobs sent; RPCs ${JSON.stringify(firstCounts)}`);
  console.log(`second upload: ${fmt(t2, 2)} s, ${again.blobs} blobs sent; RPCs ${JSON.stringify(secondCounts)}`);
  const onlyFind = Object.keys(secondCounts).every((k) => k === 'ContentAddressableStorage.FindMissingBlobs');
  console.log(`second pass sends only FindMissingBlobs: ${onlyFind ? 'yes' : 'NO'}`);
}

// ---- 2. a large blob -----------------------------------------------------------

function* bigChunks(): Generator<Buffer> {
  for (let off = 0, i = 0; off < BIG; off += MiB, i++) yield Buffer.alloc(Math.min(MiB, BIG - off), createHash('sha256').update(`chunk ${i}`).digest());
}

async function bigBlob(server: Server): Promise<void> {
  const h = createHash('sha256');
  for (const c of bigChunks()) h.update(c);
  const d: Digest = { hash: h.digest('hex') as Sha256Hex, sizeBytes: BIG };
  const a = createLocalStore({ dir: join(OUT, 'local-big-a') });
  const b = createLocalStore({ dir: join(OUT, 'local-big-b') });
  await a.put(d, Readable.from(bigChunks()));

  const before = { client: process.memoryUsage().rss, server: procKb(server.pid, 'VmRSS') * 1024 };
  const peaks = { client: 0, server: 0 };
  const sample = setInterval(() => {
    peaks.client = Math.max(peaks.client, process.memoryUsage().rss);
    peaks.server = Math.max(peaks.server, procKb(server.pid, 'VmRSS') * 1024);
  }, 20);
  const l = layers(server, a);
  const cas = (await l.provider()).cas;
  let t0 = performance.now();
  await cas.uploadFrom(a, [d]);
  const up = (performance.now() - t0) / 1000;
  const upPeaks = { ...peaks };
  peaks.client = peaks.server = 0;
  t0 = performance.now();
  await cas.downloadTo(b, [d]);
  const down = (performance.now() - t0) / 1000;
  clearInterval(sample);
  const downPeaks = { ...peaks };
  const counts = withoutCapabilities(l.rpcCounts());
  await l.close();
  const ok = (await b.findMissing([d])).length === 0;
  await a.close();
  await b.close();
  rmSync(join(OUT, 'local-big-a'), { recursive: true, force: true });
  rmSync(join(OUT, 'local-big-b'), { recursive: true, force: true });

  const mb = BIG / 1e6;
  console.log(`\n## one ${BIG / MiB} MiB blob through ByteStream`);
  console.log(`upload:   ${fmt(up, 2)} s, ${fmt(mb / up)} MB/s`);
  console.log(`download: ${fmt(down, 2)} s, ${fmt(mb / down)} MB/s (streamed into a local store, verified: ${ok ? 'yes' : 'NO'})`);
  const m = (x: number): string => `${fmt(x / MiB, 0)} MiB`;
  console.log(`RSS before: client ${m(before.client)}, server ${m(before.server)}`);
  console.log(`peak RSS, upload:   client ${m(upPeaks.client)}, server ${m(upPeaks.server)}`);
  console.log(`peak RSS, download: client ${m(downPeaks.client)}, server ${m(downPeaks.server)} (server lifetime VmHWM ${fmt(procKb(server.pid, 'VmHWM') / 1024, 0)} MiB)`);
  console.log(`RPCs: ${JSON.stringify(counts)}`);
}

// ---- 3. the shell repo with remote execution ----------------------------------------

interface CliRun {
  readonly s: number;
  readonly summary: string;
  readonly code: number | null;
}

function trewsTest(repo: string, env: Record<string, string>, bin = trewsBin): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const base: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('TREWS_')) base[k] = v;
    const t0 = performance.now();
    const child = spawn(bin, ['test', '::'], { cwd: repo, env: { ...base, TREWS_DAEMON: 'false', TREWS_DYNAMIC_UI: 'false', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (x: string) => (err += x));
    child.on('error', reject);
    child.on('exit', (code) =>
      resolve({ s: (performance.now() - t0) / 1000, code, summary: err.split('\n').find((l) => /^\d+ process|Processes: /.test(l)) ?? `(no summary) ${err.slice(-500)}` }),
    );
  });
}

async function shellRepo(): Promise<void> {
  const repo = join(OUT, 'repo');
  generateShellRepo(repo, PACKAGES);
  const rows: Record<string, { s: number[]; rpcs: number[]; summary: string; counts: Record<string, number> }> = {};
  const record = (name: string, r: CliRun, rpcs: { counts: Record<string, number>; total: number }, actions: number): void => {
    const row = (rows[name] ??= { s: [], rpcs: [], summary: r.summary, counts: rpcs.counts });
    row.s.push(r.s);
    row.rpcs.push(rpcs.total / Math.max(1, actions));
    if (r.code !== 0) console.log(`${name}: exit ${r.code}: ${r.summary}`);
  };
  const processes = (summary: string): number => Number(/^(\d+) process/.exec(summary)?.[1] ?? 0);
  for (let i = 0; i < RUNS; i++) {
    const server = await startServer();
    const env = (store: string): Record<string, string> => ({
      TREWS_REMOTE_EXECUTION: 'true',
      TREWS_REMOTE_STORE_SERVER: `grpc://${server.address}`,
      TREWS_REMOTE_EXECUTION_SERVER: `grpc://${server.address}`,
      TREWS_LOCAL_STORE_DIR: join(OUT, store),
    });
    rmSync(join(OUT, 'store-cold'), { recursive: true, force: true });
    rmSync(join(OUT, 'store-warm'), { recursive: true, force: true });
    let mark = serverRpcs(server).end;
    const cold = await trewsTest(repo, env('store-cold'));
    let rpcs = serverRpcs(server, mark);
    record('cold (server executes everything)', cold, rpcs, processes(cold.summary));
    mark = rpcs.end;
    const warm = await trewsTest(repo, env('store-warm'));
    rpcs = serverRpcs(server, mark);
    record('warm, fresh local store (remote cache)', warm, rpcs, processes(warm.summary));
    mark = rpcs.end;
    const local = await trewsTest(repo, env('store-warm'));
    rpcs = serverRpcs(server, mark);
    record('warm, same local store (local cache)', local, rpcs, processes(local.summary));
    await server.stop();
    rmSync(join(OUT, `server-${servers}`), { recursive: true, force: true });
  }
  console.log(`\n## trews test :: on the ${PACKAGES}-package shell repo with remote_execution=true (median of ${RUNS}, whole CLI process)`);
  for (const [name, r] of Object.entries(rows)) {
    const n = processes(r.summary);
    const s = median(r.s);
    console.log(`${name}: ${fmt(s, 2)} s, ${fmt(n / s)} actions/s, ${fmt(median(r.rpcs), 1)} server RPCs per action — ${r.summary}`);
    console.log(`    RPCs (one run): ${JSON.stringify(r.counts)}`);
  }
}


// ---- 4. the peers repo (with --trews-base, "remote, base" is that checkout's client and server): cold remote execution against cold local execution ------------

async function peersRepo(): Promise<void> {
  const root = join(OUT, 'peers');
  generatePeersRepo(root, PACKAGES, { install: false });
  interface Variant {
    readonly name: string;
    readonly bin: string;
    readonly remote: boolean;
    readonly env: Record<string, string>;
  }
  const variants: Variant[] = [
    { name: 'local', bin: trewsBin, remote: false, env: {} },
    { name: 'remote', bin: trewsBin, remote: true, env: {} },
    { name: 'remote, cache_content_behavior=defer', bin: trewsBin, remote: true, env: { TREWS_CACHE_CONTENT_BEHAVIOR: 'defer' } },
    ...(BASE !== undefined ? [{ name: 'remote, base', bin: join(BASE, 'bin', 'trews'), remote: true, env: {} }] : []),
  ];
  const rows = new Map<string, { s: number[]; perAction: number[]; counts: Record<string, number>[]; summary: string }>();
  for (let i = 0; i < PEERS_RUNS; i++) {
    // Rotate the order each round, so no variant always runs first after a quiet moment.
    const order = variants.map((_, k) => variants[(k + i) % variants.length]!);
    for (const v of order) {
      const store = join(OUT, 'peers-store');
      rmSync(store, { recursive: true, force: true });
      rmSync(join(root, '.trews.d'), { recursive: true, force: true });
      // The base's client talks to the base's server: before and after, both sides.
      const server = v.remote ? await startServer(WORKERS, ISOLATION, v.bin) : undefined;
      const env: Record<string, string> = { TREWS_LOCAL_STORE_DIR: store, ...v.env };
      if (server !== undefined) {
        Object.assign(env, { TREWS_REMOTE_EXECUTION: 'true', TREWS_REMOTE_STORE_SERVER: `grpc://${server.address}`, TREWS_REMOTE_EXECUTION_SERVER: `grpc://${server.address}` });
      }
      const r = await trewsTest(root, env, v.bin);
      const row = rows.get(v.name) ?? { s: [], perAction: [], counts: [], summary: r.summary };
      rows.set(v.name, row);
      if (r.code !== 0) console.log(`${v.name}: exit ${r.code}: ${r.summary}`);
      row.s.push(r.s);
      console.log(`  round ${i + 1} ${v.name}: ${fmt(r.s, 2)} s — ${r.summary}`);
      if (server !== undefined) {
        const rpcs = serverRpcs(server);
        const actions = 2 * PACKAGES;
        row.perAction.push(rpcs.total / actions);
        row.counts.push(rpcs.counts);
        await server.stop();
        rmSync(join(OUT, `server-${servers}`), { recursive: true, force: true });
      }
    }
  }
  const actions = 2 * PACKAGES;
  console.log(`\n## cold \`trews test ::\` on the ${PACKAGES}-package peers repo (${actions} actions), remote: trews remote-server --workers ${WORKERS} --isolation ${ISOLATION} on loopback, fresh per run; medians of ${PEERS_RUNS}, interleaved`);
  const local = median(rows.get('local')!.s);
  console.log('| variant | wall (median, min–max) | / local | RPCs per action (median) | by method, per action (median) |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const [name, r] of rows) {
    const methods = [...new Set(r.counts.flatMap((c) => Object.keys(c)))].sort();
    const by = methods.map((m) => `${m} ${fmt(median(r.counts.map((c) => (c[m] ?? 0) / actions)), 2)}`).join(', ');
    console.log(
      `| ${name} | ${fmt(median(r.s), 1)} s (${fmt(Math.min(...r.s), 1)}–${fmt(Math.max(...r.s), 1)}) | ${fmt(median(r.s) / local, 2)} | ${r.perAction.length > 0 ? fmt(median(r.perAction), 2) : '—'} | ${by || '—'} |`,
    );
  }
}

const server = await startServer();
// The large blob first, so the client's RSS is not that left over by 10,000 small blobs.
if (!SKIP.has('big')) await bigBlob(server);
if (!SKIP.has('small')) await smallFiles(server);
await server.stop();
if (!SKIP.has('repo')) await shellRepo();
if (!SKIP.has('peers')) await peersRepo();
rmSync(OUT, { recursive: true, force: true });
