/**
 * The TypeScript persistent worker: a program of its own (not a module of
 * trews: it imports nothing of it), run as `node tsc-worker.js <real path of
 * typescript/bin/tsc>` by exec/persistent-workers.ts. It loads that
 * typescript package once and runs `tsc [-p X] [flags]` requests, one at a
 * time, each exactly as a spawned `tsc` would (tsc's executeCommandLine and
 * performCompilation, followed step by step with the package's public API),
 * keeping the SourceFiles of read-only, content-addressed files (lib.*.d.ts,
 * @types: the shared copies of node_modules) between requests. Anything else
 * it declines, and the runner spawns tsc. See README.md, "The tsc worker".
 *
 * Requests and replies go over the IPC channel: request {cwd, args, env,
 * cacheable}; reply {exitCode, stdout, stderr} | {declined} | {failed}.
 */
import { realpathSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

interface Request {
  readonly cwd: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cacheable: readonly string[];
}

/** `retire`: the worker ends after this reply (tsc threw: its module's state is not to be trusted). */
type Reply = ({ declined: string } | { exitCode: number; stdout: string; stderr: string; note: string } | { failed: string }) & { retire?: true };

/* eslint-disable @typescript-eslint/no-explicit-any -- the typescript module is whichever version the workspace installed: typed as what this program checks it has */
type Ts = any;

/** The TypeScript versions whose tsc this program follows (executeCommandLineWorker and performCompilation read for 5.3–5.9). */
const SUPPORTED = /^5\.[3-9]\./;
/** tsc's JSDocParsingMode for a compilation (5.3+: `defaultJSDocParsingMode`, ParseForTypeErrors). */
const PARSE_FOR_TYPE_ERRORS = 2;
/** Options of the command line or the tsconfig this program does not run: tsc prints or does something else for them. */
const DECLINED_OPTIONS = [
  'build',
  'watch',
  'init',
  'version',
  'help',
  'all',
  'showConfig',
  'listFiles',
  'listFilesOnly',
  'listEmittedFiles',
  'explainFiles',
  'traceResolution',
  'diagnostics',
  'extendedDiagnostics',
  'generateTrace',
  'generateCpuProfile',
  'locale',
  'incremental',
  'composite',
  'tsBuildInfoFile',
] as const;
/** SourceFiles are kept for the shared copies of this many recent requests' prefixes at most. */
const KEPT_PREFIXES = 4;

class Exit {
  constructor(readonly code: number) {}
}
class Declined {
  constructor(readonly reason: string) {}
}

interface CachedFile {
  readonly sourceFile: unknown;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
}

const toolPath = process.argv[2] ?? '';
let ts: Ts;
let loadError: string | undefined;
try {
  // <pkg>/bin/tsc, by its real path: lib.*.d.ts are then found beside typescript.js at the same stable path tsc sees.
  const pkg = dirname(dirname(toolPath));
  if (!toolPath.endsWith('/typescript/bin/tsc')) throw new Error(`${toolPath} is not typescript's bin/tsc`);
  const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
  if (manifest.name !== 'typescript' || typeof manifest.version !== 'string' || !SUPPORTED.test(manifest.version)) {
    throw new Error(`typescript ${String(manifest.version)} at ${pkg} (the worker follows tsc 5.3–5.9)`);
  }
  ts = createRequire(join(pkg, 'package.json'))(join(pkg, 'lib', 'typescript.js'));
  const needed = [
    'parseCommandLine',
    'findConfigFile',
    'normalizePath',
    'combinePaths',
    'convertToOptionsWithAbsolutePaths',
    'getNormalizedAbsolutePath',
    'createDiagnosticReporter',
    'parseConfigFileWithSystem',
    'isWatchSet',
    'isIncrementalCompilation',
    'createCompilerHostWorker',
    'changeCompilerHostLikeToUseCache',
    'createGetCanonicalFileName',
    'toPath',
    'createProgram',
    'getConfigFileParsingDiagnostics',
    'emitFilesAndReportErrorsAndGetExitStatus',
    'createDocumentRegistry',
  ];
  const missing = needed.filter((n) => typeof ts[n] !== 'function');
  if (missing.length > 0) throw new Error(`typescript ${manifest.version} lacks ${missing.join(', ')}`);
} catch (e) {
  loadError = e instanceof Error ? e.message : String(e);
}

/** SourceFiles by the real path of a shared copy they are in, then by file and settings. */
const cache = new Map<string, Map<string, CachedFile>>();
let settingsKeys: { getKeyForCompilationSettings(o: unknown): string } | undefined;
/** SourceFiles of this request served from the cache. */
let reused = 0;

function run(req: Request): Reply {
  if (loadError !== undefined) return { declined: loadError };
  for (const name of Object.keys(req.env)) {
    // Node's and tsc's own variables change how the program runs (NODE_OPTIONS, NODE_ENV=development: assertions): spawn it.
    if (name.startsWith('NODE_') || name.startsWith('TSC_') || name.startsWith('TS_')) return { declined: `the environment sets ${name}` };
  }
  const out: string[] = [];
  let wrote = false;
  const savedEnv = { ...process.env };
  try {
    process.chdir(req.cwd);
    replaceEnv(req.env);
    reused = 0;
    const code = compile(req, out, () => (wrote = true));
    return { exitCode: code, stdout: out.join(''), stderr: '', note: `${reused} source files reused` };
  } catch (e) {
    if (e instanceof Exit) return { exitCode: e.code, stdout: out.join(''), stderr: '', note: `${reused} source files reused` };
    if (e instanceof Declined) return { declined: e.reason };
    // tsc itself threw: the spawned tsc prints its crash as node does. Nothing written yet: let it; else nothing exact is left to say.
    const why = e instanceof Error ? (e.stack ?? e.message) : String(e);
    return wrote ? { failed: why.split('\n').slice(0, 3).join(' '), retire: true } : { declined: `tsc threw: ${why.split('\n')[0]}`, retire: true };
  } finally {
    replaceEnv(savedEnv as Record<string, string>);
  }
}

function replaceEnv(env: Readonly<Record<string, string>>): void {
  for (const k of Object.keys(process.env)) if (!(k in env)) delete process.env[k];
  Object.assign(process.env, env);
}

/** tsc's non-build command line (executeCommandLine → executeCommandLineWorker → performCompilation) for what it accepts. */
function compile(req: Request, out: string[], wrote: () => void): number {
  const args = req.args;
  const first = args[0];
  if (first !== undefined && first.startsWith('-')) {
    const name = first.slice(first.startsWith('--') ? 2 : 1).toLowerCase();
    if (name === 'build' || name === 'b') throw new Declined('--build');
  }
  if (args.some((a) => a.startsWith('@'))) throw new Declined('a response file');
  // ts.sys memoizes the directory the worker started in: this request's is its own (as process.cwd() names it to a spawned tsc).
  const cwd = process.cwd();
  const sys = {
    ...ts.sys,
    getCurrentDirectory: () => cwd,
    // Spawned by trews, tsc writes to a file: never a terminal, so never pretty unless asked (which is declined).
    write: (s: string) => void out.push(s),
    writeOutputIsTTY: () => false,
    writeFile: (path: string, data: string, bom?: boolean) => {
      wrote();
      ts.sys.writeFile(path, data, bom);
    },
    exit: (code?: number) => {
      throw new Exit(code ?? 0);
    },
  };
  const commandLine = ts.parseCommandLine(args, (p: string) => sys.readFile(p));
  if (commandLine.errors.length > 0) throw new Declined('errors in the arguments');
  declineOptions(commandLine.options, 'the command line');
  if (commandLine.fileNames.length > 0) throw new Declined('file names on the command line');
  if (commandLine.options.pretty === true) throw new Declined('--pretty');

  let configFileName: string | undefined;
  if (commandLine.options.project) {
    const fileOrDirectory = ts.normalizePath(commandLine.options.project);
    if (!fileOrDirectory || sys.directoryExists(fileOrDirectory)) configFileName = ts.combinePaths(fileOrDirectory, 'tsconfig.json');
    else configFileName = fileOrDirectory;
    if (!sys.fileExists(configFileName)) throw new Declined('no tsconfig at the project path');
  } else {
    configFileName = ts.findConfigFile(ts.normalizePath(sys.getCurrentDirectory()), (f: string) => sys.fileExists(f));
    if (!configFileName) throw new Declined('no tsconfig.json');
  }
  const currentDirectory = sys.getCurrentDirectory();
  const commandLineOptions = ts.convertToOptionsWithAbsolutePaths(commandLine.options, (f: string) => ts.getNormalizedAbsolutePath(f, currentDirectory));
  // Not pretty (declined): tsc's reporter stays the plain one after reading the tsconfig.
  const reportDiagnostic = ts.createDiagnosticReporter(sys);
  const config = ts.parseConfigFileWithSystem(configFileName, commandLineOptions, new Map(), commandLine.watchOptions, sys, reportDiagnostic);
  const options = config.options;
  if (options.showConfig) throw new Declined('--showConfig');
  if (options.pretty === true) throw new Declined('pretty');
  declineOptions(options, 'the tsconfig');
  if (ts.isWatchSet(options)) throw new Declined('watch');
  if (ts.isIncrementalCompilation(options)) throw new Declined('incremental');

  // performCompilation:
  const host = ts.createCompilerHostWorker(options, undefined, sys);
  host.jsDocParsingMode = PARSE_FOR_TYPE_ERRORS;
  cacheSourceFiles(host, options, req.cacheable);
  const getCanonicalFileName = ts.createGetCanonicalFileName(host.useCaseSensitiveFileNames());
  ts.changeCompilerHostLikeToUseCache(host, (f: string) => ts.toPath(f, currentDirectory, getCanonicalFileName));
  const program = ts.createProgram({
    rootNames: config.fileNames,
    options,
    projectReferences: config.projectReferences,
    host,
    configFileParsingDiagnostics: ts.getConfigFileParsingDiagnostics(config),
  });
  // No error summary: tsc prints one only when pretty.
  return ts.emitFilesAndReportErrorsAndGetExitStatus(program, reportDiagnostic, (s: string) => sys.write(s + sys.newLine), undefined) as number;
}

function declineOptions(o: Record<string, unknown>, where: string): void {
  for (const name of DECLINED_OPTIONS) if (o[name] !== undefined && o[name] !== false) throw new Declined(`${name} in ${where}`);
}

/**
 * Serves the SourceFiles of files in the shared copies from the cache: a
 * file whose name is its real path (so every program names it the same),
 * under a prefix the request says is read-only and content-addressed, parsed
 * with the same settings (the document registry's key of the options, the
 * language version, module format and JSDoc mode), and whose inode, size,
 * mtime and ctime are those it had when parsed (a write, even one the
 * runner's barrier will catch later, is never served). Every other file is
 * read and parsed afresh, as tsc does.
 */
function cacheSourceFiles(host: any, options: unknown, cacheable: readonly string[]): void {
  const prefixes = cacheable.map((p) => (p.endsWith('/') ? p : `${p}/`));
  for (const p of prefixes) {
    const kept = cache.get(p);
    cache.delete(p);
    cache.set(p, kept ?? new Map()); // most recent last
  }
  while (cache.size > KEPT_PREFIXES) cache.delete(cache.keys().next().value!);
  settingsKeys ??= ts.createDocumentRegistry();
  const settings = settingsKeys!.getKeyForCompilationSettings(options);
  const original = host.getSourceFile;
  host.getSourceFile = (fileName: string, languageVersionOrOptions: any, onError?: (m: string) => void, shouldCreateNewSourceFile?: boolean): unknown => {
    const prefix = shouldCreateNewSourceFile ? undefined : prefixes.find((p) => fileName.startsWith(p));
    if (prefix === undefined) return original(fileName, languageVersionOrOptions, onError, shouldCreateNewSourceFile);
    let real: string;
    let st: { ino: number; size: number; mtimeMs: number; ctimeMs: number };
    try {
      real = realpathSync.native(fileName);
      st = statSync(real);
    } catch {
      return original(fileName, languageVersionOrOptions, onError, shouldCreateNewSourceFile);
    }
    if (real !== fileName) return original(fileName, languageVersionOrOptions, onError, shouldCreateNewSourceFile);
    const o = typeof languageVersionOrOptions === 'object' ? languageVersionOrOptions : { languageVersion: languageVersionOrOptions };
    const key = `${fileName}\0${settings}\0${o.languageVersion}|${o.impliedNodeFormat}|${o.jsDocParsingMode}`;
    const files = cache.get(prefix)!;
    const hit = files.get(key);
    if (hit !== undefined && hit.ino === st.ino && hit.size === st.size && hit.mtimeMs === st.mtimeMs && hit.ctimeMs === st.ctimeMs) {
      reused++;
      return hit.sourceFile;
    }
    let failed = false;
    const sourceFile = original(
      fileName,
      languageVersionOrOptions,
      (m: string) => {
        failed = true;
        onError?.(m);
      },
      shouldCreateNewSourceFile,
    );
    if (sourceFile !== undefined && !failed) files.set(key, { sourceFile, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs });
    else files.delete(key);
    return sourceFile;
  };
}

process.title = 'trews tsc worker';
process.on('message', (m: Request) => {
  const reply = run(m);
  process.send!(reply, (e: Error | null) => {
    if (e !== null) process.exit(0);
  });
});
// trews is gone.
process.on('disconnect', () => process.exit(0));
