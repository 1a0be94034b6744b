import { FailureError, failure, type Digest } from '../../core/index.js';
import type { CacheScope, ProcessResult } from '../../exec/index.js';
import { listTree, mergeTrees, SnapshotKey, treeFromBytes } from '../../store/index.js';
import { DirTargetsKey, generatorOf, type Target } from '../../targets/index.js';
import { memoizedBehavior, provide, TEST, testSettings, testTimeoutS, type RuleContext, type TargetRules, type TestCase, type TestOutcome } from '../api/index.js';
import { fileTestRunner, type FileTestRunner } from './file-test-runner.js';
import { buildRootPath } from './test-runners/index.js';
import { PackageJsonKey } from './package-json.js';
import { prepareScript, scriptInfo, shellQuote } from './script-process.js';
import { isSourceFile, JAVASCRIPT_TEST, JsSourcesConfigKey } from './source-targets.js';
import { compiledClosure, packageBuild, testClosure, type PackageBuild, type TestClosure } from './test-closure.js';
import { NODE_SCRIPT } from './target-types.js';
import { JAVASCRIPT_SCOPE } from './pipeline.js';

/** Where a per-file test process writes its runner's report (and coverage), relative to its package: an output, so a cache hit still has its cases. */
export const REPORT_DIR = '.trews-test';
const REPORT_FILE = `${REPORT_DIR}/report`;
const COVERAGE_FILE = `${REPORT_DIR}/lcov.info`;

/** What one process of test files found (one file, or a batch). */
export interface FileTestRun {
  readonly result: ProcessResult;
  readonly timeoutS: number | null;
  /** The test files it ran, build-root source paths. */
  readonly files: readonly string[];
  readonly cases: readonly TestCase[];
  /** The lcov report, build-root source paths, when coverage was asked for. */
  readonly coverage?: string;
  readonly hints?: readonly string[];
}

/** A batch's process, memoized on its first file's target: every file of the batch asks for it, one process runs. */
const TEST_BATCH = memoizedBehavior<FileTestRun>('javascript-test-batch');

/** A plain-file config a runner reads (`vitest.config.ts`, `jest.config.js`, `.mocharc.yml`, a setup file): in every test's sandbox, though it is a source file by its extension. */
const CONFIG_FILE = /(^|\/)([^/]*\.config\.[^/]+|\.[^/]*rc(\.[^/]+)?|[^/]*setup[^/]*\.[^/]+)$/;

function isTs(path: string): boolean {
  return /\.(ts|tsx|mts|cts)$/.test(path);
}

/** The test files that run in one process with `t`: it alone, or (with a `batch_compatibility_tag`) its package's files of that tag and runner, in chunks of `[test] batch_size`. */
async function batchOf(rc: RuleContext, t: Target): Promise<Target[]> {
  const tag = t.fields['batch_compatibility_tag'];
  if (typeof tag !== 'string') return [t];
  const tests = (await rc.get(new DirTargetsKey(rc.project, t.addr.dir))).targets
    .filter((x) => x.type === JAVASCRIPT_TEST && x.fields['skip_tests'] !== true && x.fields['batch_compatibility_tag'] === tag && x.fields['runner'] === t.fields['runner'])
    .sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  const size = Math.max(1, (await rc.options('test')).int('batch_size'));
  const i = tests.findIndex((x) => x.address === t.address);
  if (i < 0) return [t];
  return tests.slice(i - (i % size), i - (i % size) + size);
}

async function runnerOf(rc: RuleContext, pkgDir: string, t: Target): Promise<FileTestRunner> {
  const [manifest, config] = await Promise.all([rc.get(new PackageJsonKey(rc.project.ws, pkgDir)), rc.get(new JsSourcesConfigKey())]);
  const runner = manifest === null ? null : fileTestRunner(manifest, config.testRunner);
  if (runner !== null) return runner;
  throw new FailureError(
    failure('input', 'unknown-test-runner', `${t.address} cannot run by itself: trews cannot tell which test runner ${pkgDir || 'the root package'} uses`, {
      location: manifest?.at ?? { file: t.buildFile, line: t.line, col: t.col },
      hints: [
        `set \`[${JAVASCRIPT_SCOPE}] test_runner\` (node, vitest, jest, mocha), or \`test_granularity = "package"\` to run the package's \`test\` script`,
        'runners are read from a `test` script that runs one of them (`node --test`, `vitest run`, `jest`, `mocha`)',
      ],
    }),
  );
}

/**
 * Whether the runner runs what the build compiled (`node --test dist/`)
 * rather than the sources: the script names a path inside the build's
 * outputs, or node without a loader (Node 20 reads no TypeScript) runs
 * a TypeScript file of a package that builds.
 */
function runsCompiled(runner: FileTestRunner, b: PackageBuild, files: readonly string[]): boolean {
  if (b.script === undefined) return false;
  const inOutputs = runner.paths.some((p) => {
    const path = p.replace(/^\.\//, '').replace(/\/+$/, '');
    const rooted = b.dir === '' ? path : `${b.dir}/${path}`;
    return rooted === b.outDir || rooted.startsWith(`${b.outDir}/`);
  });
  return inOutputs || (!runner.readsTypeScript && files.some(isTs));
}

/** The files of a package every test of it may read: package.json, its other non-source files (fixtures, tsconfig.json) and the runner's configuration. */
async function supportFiles(rc: RuleContext, pkgDir: string, own: boolean): Promise<string[]> {
  const manifest = pkgDir === '' ? 'package.json' : `${pkgDir}/package.json`;
  if (!own) return [manifest];
  const pkg = (await rc.get(new DirTargetsKey(rc.project, pkgDir))).targets.find((x) => x.addr.file === undefined && x.type === 'package_json');
  const prefix = pkgDir === '' ? 0 : pkgDir.length + 1;
  return [...new Set([manifest, ...(pkg?.sources ?? []).filter((f) => !isSourceFile(f) || CONFIG_FILE.test(f.slice(prefix)))])].sort();
}

function mergeClosures(cs: readonly TestClosure[]): TestClosure {
  const files = [...new Set(cs.flatMap((c) => c.files))];
  return { files, packages: [...new Set(cs.flatMap((c) => c.packages))].sort(), packageDirs: new Set(cs.flatMap((c) => [...c.packageDirs])) };
}

async function reportText(rc: RuleContext, outputRoot: Digest, path: string): Promise<string | undefined> {
  const entry = (await listTree(rc.store, outputRoot, rc.signal)).find((e) => e.path === path);
  if (entry === undefined || entry.kind !== 'file') return undefined;
  const bytes = await rc.store.getBytes(entry.digest, rc.signal);
  return bytes === undefined ? undefined : Buffer.from(bytes).toString('utf8');
}

/** Runs test files of one package in one sandboxed process, over the files their imports reach; their cases come from the runner's report. */
async function runFiles(rc: RuleContext, members: readonly Target[]): Promise<FileTestRun> {
  const first = members[0]!;
  const pkgDir = first.addr.dir;
  const runner = await runnerOf(rc, pkgDir, first);
  const settings = await testSettings(rc);
  const timeouts = members.map((m) => testTimeoutS(m, settings));
  const timeoutS = timeouts.some((x) => x === null) ? null : timeouts.reduce<number>((a, b) => a + b!, 0);
  const cacheScope: CacheScope = settings.force ? 'per-run' : 'successful';
  const sources = members.map((m) => m.sources[0]!);
  const closure = mergeClosures(await Promise.all(members.map((m) => testClosure(rc, m))));
  const build = await packageBuild(rc, pkgDir);
  const compiled = runsCompiled(runner, build, sources);
  let code: Digest;
  let runPaths = new Map<string, string>();
  if (compiled) {
    const c = await compiledClosure(rc, closure);
    code = c.tree;
    runPaths = c.paths;
    const missing = sources.find((s) => !runPaths.has(s));
    if (missing !== undefined) {
      throw new FailureError(
        failure('input', 'test-not-compiled', `${first.address} runs compiled (its package's tests run \`${runner.name}\` on the build's output), and ${missing} is outside what the build compiles (${build.rootDir}/ → ${build.outDir}/)`, {
          location: { file: first.buildFile, line: first.line, col: first.col },
          hints: ['move the test under the compiled sources, or set `[javascript] test_granularity = "package"`'],
        }),
      );
    }
  } else {
    const packageFiles: string[] = [];
    for (const d of closure.packages) {
      if (d === pkgDir) continue;
      const pkg = (await rc.get(new DirTargetsKey(rc.project, d))).targets.find((x) => x.addr.file === undefined && x.type === 'package_json');
      packageFiles.push(...(pkg?.sources ?? []));
    }
    code = (await rc.get(new SnapshotKey(rc.project.ws, rc.store, [...new Set([...closure.files, ...packageFiles])].sort()))).digest;
  }
  const rel = (p: string): string => (pkgDir === '' ? p : p.slice(pkgDir.length + 1));
  const under = (p: string): string => (pkgDir === '' ? p : `${pkgDir}/${p}`);
  const ran = sources.map((s) => runPaths.get(s) ?? s);
  const useCoverage = (await rc.options('test')).bool('use_coverage');
  const { argv, env, sandboxFiles } = runner.command(ran.map(rel), { reportFile: REPORT_FILE, ...(useCoverage ? { coverageFile: COVERAGE_FILE } : {}) });
  const support = (await Promise.all([...closure.packageDirs].map((d) => supportFiles(rc, d, d === pkgDir)))).flat();
  const supportTree = (await rc.get(new SnapshotKey(rc.project.ws, rc.store, [...new Set(support)].sort()))).digest;
  const runnerFiles = await treeFromBytes(rc.store, Object.entries(sandboxFiles).map(([path, content]) => ({ path: under(path), content })), rc.signal);
  const tree = await mergeTrees(rc.store, [code, supportTree, runnerFiles], rc.signal);
  const scripts = (await rc.get(new DirTargetsKey(rc.project, pkgDir))).targets;
  const host = scripts.find((x) => x.type === NODE_SCRIPT && x.fields['script'] === 'test') ?? (await rc.target(generatorOf(first.addr)!));
  const info = await scriptInfo(rc, host);
  const { process } = await prepareScript(rc, { ...info, outputs: [`${REPORT_DIR}/**`] }, {
    cacheScope,
    timeoutS,
    // The runner writes its report into a directory of its own (an output directory, which the sandbox does not make).
    stages: ['test', `mkdir -p ${REPORT_DIR} && ${argv.map(shellQuote).join(' ')}`],
    // Stack traces of compiled tests in the source's lines, where the build wrote source maps.
    // Not with coverage: Node 20's coverage fails on source-mapped files ("Could not report code coverage"), and reports the compiled lines anyway.
    env: compiled && runner.name === 'node' && !useCoverage ? { ...env, NODE_OPTIONS: [env['NODE_OPTIONS'], '--enable-source-maps'].filter((x) => x !== undefined).join(' ') } : env,
    inputs: { tree, packageDirs: closure.packageDirs },
    description: `Test ${sources.join(', ')} (${runner.name}${compiled ? ', compiled' : ''})`,
  });
  const result = await rc.execute(process);
  const text = await reportText(rc, result.outputRoot, REPORT_FILE);
  const back = new Map([...runPaths].map(([s, c]) => [c, s]));
  const context = { packageDir: pkgDir, ...(text === undefined ? {} : sandboxRootIn(text, [...ran, ...sources])) };
  const cases = (text === undefined ? [] : runner.parseReport(text, context)).map((c) => sourceCase(c, back));
  const lcov = useCoverage ? await reportText(rc, result.outputRoot, COVERAGE_FILE) : undefined;
  // Coverage of compiled files stays under their compiled names: its lines are the compiled file's.
  const coverage =
    lcov === undefined
      ? undefined
      : lcov.replace(/^SF:(.*?)(\r?)$/gm, (_m, p: string, cr: string) => {
          const path = buildRootPath(p, context);
          return `SF:${path}${cr}`;
        });
  return {
    result,
    timeoutS,
    files: sources,
    cases,
    ...(coverage !== undefined ? { coverage } : {}),
    ...(text === undefined && result.exitCode !== 0 ? { hints: [`${runner.name} wrote no report: it failed before running a test`] } : {}),
  };
}

/**
 * The sandbox's root as the report spells it (`/tmp/…/sandbox` in
 * `/tmp/…/sandbox/packages/a/dist/x.test.js`), found by a file the process
 * ran: the report is kept as the process wrote it (a cached one too), and
 * its paths are made relative to the build root when read.
 */
function sandboxRootIn(text: string, ran: readonly string[]): { sandboxRoot?: string } {
  for (const p of ran) {
    const m = new RegExp(`(/[^\\s"'()]*?)/${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`).exec(text);
    if (m !== null) return { sandboxRoot: m[1]! };
  }
  return {};
}

/** A case of a compiled test named by its source: `dist/x.test.js` is `src/x.test.ts`. */
function sourceCase(c: TestCase, back: ReadonlyMap<string, string>): TestCase {
  const file = back.get(c.file) ?? c.file;
  const loc = c.failure?.location;
  if (loc === undefined || !back.has(loc.file)) return file === c.file ? c : { ...c, file };
  return { ...c, file, failure: { ...c.failure!, location: { ...loc, file: back.get(loc.file)! } } };
}

/** `trews test` of one test file: its own process, or its share of its batch's (its own cases decide). */
async function testFile(rc: RuleContext, t: Target): Promise<TestOutcome> {
  const members = await batchOf(rc, t);
  const run = members.length === 1 ? await runFiles(rc, members) : await rc.serve(TEST_BATCH, members[0]!, undefined);
  const own = t.sources[0]!;
  const cases = run.cases.filter((c) => c.file === own);
  const batched = run.files.length > 1;
  // In a batch, the process fails when any file does: a file passes when it has cases and none of them failed.
  const passed = batched ? (run.result.exitCode === 0 && !run.result.timedOut) || (cases.length > 0 && cases.every((c) => c.status !== 'failed')) : undefined;
  return {
    result: run.result,
    timeoutS: run.timeoutS,
    cases,
    ...(passed !== undefined ? { passed } : {}),
    // A batch's coverage once, with its first file: merged per file it would count every line as often as the batch has files.
    ...(run.coverage !== undefined && run.files[0] === own ? { coverage: run.coverage } : {}),
    ...(run.hints !== undefined ? { hints: run.hints } : {}),
  };
}

export const javascriptTestRules: TargetRules = {
  // A test file puts itself in a dependent's sandbox, at its path from the build root.
  sandbox: { sources: true },
  provides: [
    provide(TEST, testFile),
    provide(TEST_BATCH, async (rc, t) => runFiles(rc, await batchOf(rc, t))),
  ],
};
