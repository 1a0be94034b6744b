// The in-process bundle loads the REAPI schemas and protobuf-es on first use
// (scripts/lazy-modules.mjs): every import of them gets a facade whose
// descriptors are Proxies. What a digest is made of must not change: the
// facade's encodings are compared byte by byte with the real modules' (the
// compiled dist/src, which every unit test uses), and a facade the plugin
// cannot make faithfully fails the build instead of running wrong.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { create as realCreate, toBinary as realToBinary } from '@bufbuild/protobuf';
import { timestampFromMs as realTimestampFromMs } from '@bufbuild/protobuf/wkt';
import { RACY_MARGIN_MS } from '../src/fs/index.js';
import * as real from '../src/reapi/index.js';
import { repoRoot, runTrews, withRepo } from './helpers/index.js';

type Plugin = { name: string; setup: (b: unknown) => void };
interface LazyModulesScript {
  lazyModules(modules: unknown[]): Plugin;
  trewsLazyModules(root: string): unknown[];
}
interface Esbuild {
  build(options: Record<string, unknown>): Promise<{ outputFiles: { text: string }[] }>;
}

const root = repoRoot();
const dir = mkdtempSync(join(tmpdir(), 'trews-lazy-modules-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const requireHere = createRequire(import.meta.url);
const loadScript = async (): Promise<LazyModulesScript> => (await import(pathToFileURL(join(root, 'scripts', 'lazy-modules.mjs')).href)) as LazyModulesScript;
const esbuild = (): Promise<Esbuild> => import(pathToFileURL(requireHere.resolve('esbuild')).href) as Promise<Esbuild>;

/** Bundles `entry` (a file in the temp dir) as the in-process bundle is, with `plugin`, and returns the bundle's path. */
async function bundle(name: string, entry: string, plugin: Plugin): Promise<string> {
  const entryPath = join(dir, `${name}.ts`);
  writeFileSync(entryPath, entry);
  const result = await (await esbuild()).build({
    entryPoints: [entryPath],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    write: false,
    logLevel: 'silent',
    nodePaths: [join(root, 'node_modules')],
    plugins: [plugin],
  });
  const out = join(dir, `${name}.cjs`);
  writeFileSync(out, result.outputFiles[0]!.text);
  return out;
}

const loaded = (): string[] => [...((globalThis as Record<symbol, string[] | undefined>)[Symbol.for('trews.lazy-modules')] ?? [])];

describe('lazily loaded REAPI schemas and protobuf-es (the in-process bundle)', () => {
  it('load nothing until used, and then encode, digest and decode byte for byte as the real modules do', async () => {
    const { lazyModules, trewsLazyModules } = await loadScript();
    const file = await bundle(
      'reapi',
      [
        `export * as reapi from ${JSON.stringify(join(root, 'src', 'reapi', 'index.ts'))};`,
        "export * as pb from '@bufbuild/protobuf';",
        "export * as wkt from '@bufbuild/protobuf/wkt';",
      ].join('\n'),
      lazyModules(trewsLazyModules(root)),
    );
    const before = loaded().length;
    const lazy = requireHere(file) as { reapi: typeof real; pb: typeof import('@bufbuild/protobuf'); wkt: typeof import('@bufbuild/protobuf/wkt') };
    const sinceLoad = (): string[] => loaded().slice(before);
    assert.deepEqual(sinceLoad(), [], 'loading the bundle boots no descriptor');

    // What encodeCanonical asks of every schema, and enums, need no loading.
    assert.equal(lazy.reapi.DirectorySchema.typeName, 'build.bazel.remote.execution.v2.Directory');
    assert.equal(lazy.reapi.ActionSchema.kind, 'message');
    assert.equal(lazy.reapi.DigestFunction_Value.SHA256, real.DigestFunction_Value.SHA256);
    assert.equal(lazy.reapi.Code[real.Code.NOT_FOUND], 'NOT_FOUND');
    assert.deepEqual(sinceLoad(), []);

    const { create, toBinary, fromBinary, equals } = lazy.pb;
    const digest = { hash: 'ab'.repeat(32), sizeBytes: 5n };
    const command = {
      arguments: ['node', 'build.js', 'ünïcode'],
      environmentVariables: [
        { name: 'PATH', value: '/bin' },
        { name: 'Z', value: 'z' },
      ],
      outputPaths: ['dist/out.js'],
      workingDirectory: 'pkg',
      platform: { properties: [{ name: 'OSFamily', value: 'linux' }] },
    };
    const action = { commandDigest: digest, inputRootDigest: digest, doNotCache: true, salt: new Uint8Array([1, 2, 3]) };
    const plainDir = {
      files: [{ name: 'a.txt', digest, isExecutable: true }],
      directories: [{ name: 'sub', digest }],
      symlinks: [{ name: 'l', target: 'a.txt' }],
    };
    const nodeProperties = { properties: [{ name: 'p', value: 'v' }], mtime: { seconds: 7n, nanos: 9 }, unixMode: 0o755 };
    const pairs: [string, Uint8Array, Uint8Array][] = [
      ['Command', lazy.reapi.encodeCanonical(lazy.reapi.CommandSchema, create(lazy.reapi.CommandSchema, command)), real.encodeCanonical(real.CommandSchema, realCreate(real.CommandSchema, command))],
      [
        'Action with a timeout',
        lazy.reapi.encodeCanonical(lazy.reapi.ActionSchema, create(lazy.reapi.ActionSchema, { ...action, timeout: create(lazy.wkt.DurationSchema, { seconds: 60n }) })),
        real.encodeCanonical(real.ActionSchema, realCreate(real.ActionSchema, { ...action, timeout: { seconds: 60n } })),
      ],
      ['Directory (the encoder by hand)', lazy.reapi.encodeCanonical(lazy.reapi.DirectorySchema, create(lazy.reapi.DirectorySchema, plainDir)), real.encodeCanonical(real.DirectorySchema, realCreate(real.DirectorySchema, plainDir))],
      [
        'Directory with node properties (protobuf-es)',
        lazy.reapi.encodeCanonical(lazy.reapi.DirectorySchema, create(lazy.reapi.DirectorySchema, { ...plainDir, nodeProperties })),
        real.encodeCanonical(real.DirectorySchema, realCreate(real.DirectorySchema, { ...plainDir, nodeProperties })),
      ],
      [
        'ActionResult with timestamps',
        toBinary(lazy.reapi.ActionResultSchema, create(lazy.reapi.ActionResultSchema, { exitCode: 3, executionMetadata: { worker: 'w', queuedTimestamp: lazy.wkt.timestampFromMs(1234567) } })),
        realToBinary(real.ActionResultSchema, realCreate(real.ActionResultSchema, { exitCode: 3, executionMetadata: { worker: 'w', queuedTimestamp: realTimestampFromMs(1234567) } })),
      ],
    ];
    for (const [what, lazyBytes, realBytes] of pairs) assert.deepEqual(Buffer.from(lazyBytes), Buffer.from(realBytes), what);
    assert.deepEqual(lazy.reapi.digestMessage(lazy.reapi.CommandSchema, create(lazy.reapi.CommandSchema, command)).digest, real.digestMessage(real.CommandSchema, realCreate(real.CommandSchema, command)).digest);

    // Decoding, and what protobuf-es does with a schema beyond encoding.
    const bytes = pairs[3]![2];
    const decoded = lazy.reapi.decodeMessage(lazy.reapi.DirectorySchema, bytes);
    assert.ok(decoded.ok);
    const realDecoded = real.decodeMessage(real.DirectorySchema, bytes);
    assert.ok(realDecoded.ok);
    assert.deepEqual(decoded.value, realDecoded.value);
    assert.ok(equals(lazy.reapi.DirectorySchema, decoded.value, fromBinary(lazy.reapi.DirectorySchema, bytes)));
    assert.equal(lazy.reapi.decodeMessage(lazy.reapi.DirectorySchema, new Uint8Array([0x0a, 0x7f])).ok, false, 'a truncated message is a failure, as with the real module');
    assert.deepEqual(Object.keys(lazy.reapi.DirectorySchema).sort(), Object.keys(real.DirectorySchema).sort());
    assert.deepEqual(
      lazy.reapi.DirectorySchema.fields.map((f) => f.name),
      real.DirectorySchema.fields.map((f) => f.name),
    );
    assert.equal(lazy.pb.protoInt64.parse('9007199254740993'), 9007199254740993n);
    assert.deepEqual(
      lazy.reapi.ExecutionService.methods.map((m) => m.name),
      real.ExecutionService.methods.map((m) => m.name),
    );
    assert.deepEqual(sinceLoad().sort(), ['@bufbuild/protobuf', '@bufbuild/protobuf/wkt', 'reapi-schemas'], 'each loaded once, on first use');
  });

  it('semver (a CommonJS module imported by its default export) loads on first use and answers as the real one', async () => {
    const { lazyModules, trewsLazyModules } = await loadScript();
    const file = await bundle('semver', "import semver from 'semver';\nexport { semver };", lazyModules(trewsLazyModules(root)));
    const before = loaded().length;
    const lazy = (requireHere(file) as { semver: typeof import('semver') }).semver;
    assert.deepEqual(loaded().slice(before), []);
    const real = requireHere('semver') as typeof import('semver');
    for (const [v, range] of [['1.2.3', '^1.0.0'], ['2.0.0-rc.1', '>=2.0.0'], ['1.2.3', 'not a range'], ['v1.2.3', '~1.2']] as const) {
      assert.equal(lazy.satisfies(v, range, { loose: true }), real.satisfies(v, range, { loose: true }), `${v} ${range}`);
      assert.equal(lazy.validRange(range, { loose: true }), real.validRange(range, { loose: true }), range);
    }
    assert.deepEqual(loaded().slice(before), ['semver']);
  });

  it('fails the build on an export it has no faithful stand-in for (a class, a symbol), rather than running it wrong', async () => {
    const { lazyModules } = await loadScript();
    const mod = join(dir, 'has-a-class.mjs');
    writeFileSync(mod, 'export class Registry {}\nexport const n = 1;\n');
    const symbolic = join(dir, 'has-a-symbol.mjs');
    writeFileSync(symbolic, "export const tag = Symbol('t');\n");
    const plugin = lazyModules([{ filter: /^lazy-target$/, importedFrom: () => true, exportsFrom: mod }]);
    // The facade's real module resolves like any import; point it at the file.
    const resolving: Plugin = {
      name: 'resolve-target',
      setup(b) {
        (b as { onResolve: (o: unknown, f: (a: { pluginData?: { lazyReal?: boolean } }) => unknown) => void }).onResolve({ filter: /^lazy-target$/ }, (a) => (a.pluginData?.lazyReal ? { path: mod } : undefined));
      },
    };
    const composite: Plugin = {
      name: 'both',
      setup(b) {
        plugin.setup(b);
        resolving.setup(b);
      },
    };
    // A class is left out of the facade (`new` and `instanceof` need the real one): importing it fails the build.
    await assert.rejects(bundle('bad', "import { Registry } from 'lazy-target';\nexport const r = new Registry();", composite), /No matching export in "trews-lazy:0:lazy-target" for import "Registry"/);
    const { lazyModules: again } = await loadScript();
    const symbolPlugin = again([{ filter: /^lazy-target$/, importedFrom: () => true, exportsFrom: symbolic }]);
    await assert.rejects(
      bundle('bad-symbol', "import { tag } from 'lazy-target';\nexport const t = tag;", { name: 'both', setup: (b) => (symbolPlugin.setup(b), resolving.setup(b)) }),
      /no faithful stand-in for tag \(symbol\)/,
    );
  });

  it('are never loaded by a run that encodes nothing (`list`, `version`, a fully cached `package`), and are by one that runs a process', async () => {
    // Preloaded into the CLI's process: says at exit what the bundle loaded lazily.
    const preload = join(dir, 'report-lazy.cjs');
    writeFileSync(preload, "process.on('exit', () => process.stderr.write(`lazily loaded: ${JSON.stringify(globalThis[Symbol.for('trews.lazy-modules')] ?? null)}\\n`));\n");
    const lazyLoads = (stderr: string): unknown => {
      const m = /lazily loaded: (.*)/.exec(stderr);
      assert.ok(m, `no report in: ${stderr}`);
      return JSON.parse(m[1]!);
    };
    const BUILD = [
      'files(name="in", sources=["in.txt"])',
      'shell_command(name="copy", command="cat in.txt > out.txt", tools=["cat"], execution_dependencies=[":in"], output_files=["out.txt"])',
      'archive(name="all", format="tar", files=[":copy"])',
      '',
    ].join('\n');
    await withRepo({ 'a/BUILD': BUILD, 'a/in.txt': 'x' }, async (repo, env) => {
      const run = async (args: string[]): Promise<unknown> => {
        const r = await runTrews(args, { cwd: repo.root, env: { ...env, NODE_OPTIONS: `--require ${preload}` }, persistGraph: true });
        assert.equal(r.code, 0, r.stderr);
        return lazyLoads(r.stderr);
      };
      assert.deepEqual(await run(['version']), []);
      assert.deepEqual(await run(['list', '::']), []);
      const built = (await run(['package', '::'])) as string[];
      assert.ok(built.includes('reapi-schemas'), `a run that hashes an Action loads the schemas: ${JSON.stringify(built)}`);
      // Files written within the racy margin are read again by the next run (fs/path-stamps.ts): age them,
      // let a run stamp them, and the one after is fully cached from the kept graph.
      await sleep(RACY_MARGIN_MS + 250);
      await run(['package', '::']);
      // The archive is written again from the trees the graph names, read without protobuf-es.
      assert.deepEqual(await run(['package', '::']), []);
    });
  });
});
