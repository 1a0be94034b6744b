import type { JsTestRunner, JsTestRunnerName } from './runner.js';
import { shellWords } from './shell-words.js';
import { testRunnerNamed } from './runners.js';

/** What `detectTestRunner` found in a package's `test` script. */
export interface DetectedTestRunner {
  readonly runner: JsTestRunner;
  /** The script's own flags worth keeping (`--import tsx`, `--config vitest.unit.ts`), for `command({ extraArgs })`. */
  readonly extraArgs: readonly string[];
  /** The paths, globs or patterns the script named (`dist/`, `'test/**\/*.spec.js'`): where the runner looks. */
  readonly paths: readonly string[];
  /** Variables the script set (`cross-env NODE_ENV=test jest`, `CI=1 vitest`). */
  readonly env: Readonly<Record<string, string>>;
  /** How it was found, for a debug line: `the test script \`vitest run\``. */
  readonly how: string;
}

export type TestRunnerDetection = { readonly ok: true; readonly detected: DetectedTestRunner } | { readonly ok: false; readonly reason: string };

export interface TestRunnerInput {
  /** The package.json `test` script, if any. */
  readonly testScript?: string;
  /** All the package's declared dependencies (every field), name → range. */
  readonly dependencies: Readonly<Record<string, string>>;
}

/** The runner a package's tests use, or null when it cannot tell (then the package's test stays one process). */
export function detectTestRunner(input: TestRunnerInput): DetectedTestRunner | null {
  const d = explainTestRunner(input);
  return d.ok ? d.detected : null;
}

const PACKAGE_RUNNERS: readonly JsTestRunnerName[] = ['vitest', 'jest', 'mocha'];

/** `detectTestRunner` with the reason it could not tell, for a debug line. */
export function explainTestRunner(input: TestRunnerInput): TestRunnerDetection {
  const script = input.testScript?.trim() ?? '';
  if (script === '') {
    const declared = PACKAGE_RUNNERS.filter((r) => input.dependencies[r] !== undefined);
    if (declared.length === 1) {
      const name = declared[0]!;
      return detected(name, [], [], {}, `its dependency on ${name} (it has no test script)`);
    }
    return {
      ok: false,
      reason:
        declared.length === 0
          ? 'it has no test script and depends on none of vitest, jest, mocha'
          : `it has no test script and depends on ${declared.join(' and ')}`,
    };
  }
  const split = shellWords(script);
  if (!split.ok) return { ok: false, reason: `its test script \`${script}\`: ${split.reason}` };
  const words = [...split.words];
  const env: Record<string, string> = {};
  const unknown = (why: string): TestRunnerDetection => ({ ok: false, reason: `its test script \`${script}\` ${why}` });
  // Peel what only sets the stage: variables, cross-env, and the package managers' ways to run a bin.
  for (;;) {
    const w = words[0];
    if (w === undefined) return unknown('runs nothing');
    const assignment = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(w);
    if (assignment) {
      env[assignment[1]!] = assignment[2]!;
      words.shift();
      continue;
    }
    if (w === 'cross-env' || w === 'env') {
      words.shift();
      if (words[0]?.startsWith('-')) return unknown(`passes flags to \`${w}\``);
      continue;
    }
    if (w === 'npx') {
      words.shift();
      while (words[0] !== undefined && ['--yes', '-y', '--no', '--no-install', '--quiet', '-q', '--offline'].includes(words[0])) words.shift();
      if (words[0]?.startsWith('-')) return unknown(`passes \`${words[0]}\` to npx`);
      continue;
    }
    if ((w === 'pnpm' || w === 'npm') && words[1] === 'exec') {
      words.splice(0, 2);
      if (words[0] === '--') words.shift();
      continue;
    }
    if ((w === 'pnpm' || w === 'yarn') && words[1] !== undefined && (KNOWN_BINS.has(words[1]) || words[1] === 'exec')) {
      words.splice(0, words[1] === 'exec' ? 2 : 1);
      continue;
    }
    break;
  }
  const bin = words.shift()!;
  const how = `its test script \`${script}\``;
  switch (bin) {
    case 'node':
      return fromFlags('node', words, NODE_FLAGS, env, how, script);
    case 'tsx': {
      // `tsx --test` is node's runner with tsx's loader: the same as `node --import tsx --test`.
      const d = fromFlags('node', words, NODE_FLAGS, env, how, script);
      return d.ok ? { ok: true, detected: { ...d.detected, extraArgs: ['--import', 'tsx', ...d.detected.extraArgs] } } : d;
    }
    case 'vitest': {
      const sub = words[0];
      if (sub === 'run' || sub === 'watch' || sub === 'dev') words.shift();
      else if (sub !== undefined && !sub.startsWith('-') && VITEST_OTHER_COMMANDS.has(sub)) return unknown(`runs \`vitest ${sub}\`, not the tests`);
      return fromFlags('vitest', words, VITEST_FLAGS, env, how, script);
    }
    case 'jest':
      return fromFlags('jest', words, JEST_FLAGS, env, how, script);
    case 'mocha':
    case '_mocha':
      return fromFlags('mocha', words, MOCHA_FLAGS, env, how, script);
    default:
      return unknown(`runs \`${bin}\`, which is not a test runner trews knows (node --test, tsx --test, vitest, jest, mocha)`);
  }
}

const KNOWN_BINS = new Set(['vitest', 'jest', 'mocha', 'node', 'tsx']);
const VITEST_OTHER_COMMANDS = new Set(['bench', 'related', 'list', 'init', 'typecheck']);

interface FlagSpec {
  /** Flags whose value is the next word when it is not given with `=`. */
  readonly withValue: ReadonlySet<string>;
  /** Flags trews sets itself (reporter, coverage, output) or that would not end (watch): dropped with their value. */
  readonly dropped: (name: string) => boolean;
  /** Flags whose value is a path the runner looks at (mocha's `--spec`). */
  readonly pathValued?: ReadonlySet<string>;
  /** The flag that must be there for the command to be a test run (`node --test`). */
  readonly required?: string;
}

const NODE_FLAGS: FlagSpec = {
  withValue: new Set([
    '--import', '--require', '-r', '--loader', '--experimental-loader', '--conditions', '-C', '--test-name-pattern', '--test-skip-pattern',
    '--test-reporter', '--test-reporter-destination', '--test-concurrency', '--test-timeout', '--test-shard', '--input-type', '--env-file',
    '--stack-trace-limit', '--max-old-space-size', '--title', '--inspect-port', '--disable-warning',
  ]),
  dropped: (n) => n === '--test' || n.startsWith('--test-reporter') || n === '--experimental-test-coverage' || n === '--watch' || n === '--watch-path' || n === '--test-shard',
  required: '--test',
};

const VITEST_FLAGS: FlagSpec = {
  withValue: new Set([
    '--config', '-c', '--root', '-r', '--dir', '--environment', '--pool', '--project', '--mode', '--testNamePattern', '-t', '--reporter',
    '--outputFile', '--shard', '--maxWorkers', '--minWorkers', '--testTimeout', '--hookTimeout', '--retry', '--exclude', '--include',
    '--workspace', '--poolOptions', '--sequence', '--bail', '--segfaultRetry', '--changed', '--inspect', '--inspect-brk',
  ]),
  dropped: (n) =>
    n === '--run' || n === '--watch' || n === '-w' || n.startsWith('--coverage') || n.startsWith('--reporter') || n.startsWith('--outputFile') ||
    n === '--ui' || n === '--open' || n === '--shard' || n === '--changed',
};

const JEST_FLAGS: FlagSpec = {
  withValue: new Set([
    '--config', '-c', '--testPathPattern', '--testPathPatterns', '--testNamePattern', '-t', '--maxWorkers', '-w', '--selectProjects',
    '--rootDir', '--roots', '--testTimeout', '--env', '--testEnvironment', '--reporters', '--shard', '--setupFiles', '--setupFilesAfterEach',
    '--outputFile', '--coverageReporters', '--coverageDirectory', '--collectCoverageFrom', '--testMatch', '--testRegex', '--testPathIgnorePatterns',
    '--modulePaths', '--moduleDirectories', '--moduleFileExtensions', '--changedSince', '--seed', '--workerIdleMemoryLimit',
  ]),
  dropped: (n) =>
    n === '--watch' || n === '--watchAll' || n === '--json' || n === '--outputFile' || n.startsWith('--coverage') || n === '--collectCoverage' ||
    n === '--collectCoverageFrom' || n === '--reporters' || n === '--testPathPattern' || n === '--testPathPatterns' || n === '--runTestsByPath' ||
    n === '--shard' || n === '--changedSince' || n === '--onlyChanged' || n === '-o' || n === '--listTests',
  pathValued: new Set(['--testPathPattern', '--testPathPatterns']),
};

const MOCHA_FLAGS: FlagSpec = {
  withValue: new Set([
    '--require', '-r', '--reporter', '-R', '--reporter-option', '--reporter-options', '-O', '--config', '--ui', '-u', '--timeout', '-t',
    '--grep', '-g', '--fgrep', '-f', '--spec', '--extension', '--ignore', '--exclude', '--file', '--slow', '-s', '--package', '--node-option',
    '-n', '--jobs', '-j', '--retries', '--watch-files', '--watch-ignore', '--import',
  ]),
  // --parallel: trews runs the files as processes of its own, and mocha's parallel mode replays outcomes to reporters as copies.
  dropped: (n) =>
    n === '--reporter' || n === '-R' || n.startsWith('--reporter-option') || n === '-O' || n === '--watch' || n === '-w' || n === '--spec' ||
    n === '--watch-files' || n === '--watch-ignore' || n === '--parallel' || n === '-p' || n === '--jobs' || n === '-j',
  pathValued: new Set(['--spec']),
};

function fromFlags(name: JsTestRunnerName, words: readonly string[], spec: FlagSpec, env: Record<string, string>, how: string, script: string): TestRunnerDetection {
  const extraArgs: string[] = [];
  const paths: string[] = [];
  let required = spec.required === undefined;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w === '--') {
      paths.push(...words.slice(i + 1));
      break;
    }
    if (!w.startsWith('-') || w === '-') {
      paths.push(w);
      continue;
    }
    const eq = w.indexOf('=');
    const flagName = w.startsWith('--') && eq > 0 ? w.slice(0, eq) : w;
    const takesNext = eq < 0 && spec.withValue.has(flagName) && i + 1 < words.length;
    const value = eq > 0 && w.startsWith('--') ? w.slice(eq + 1) : takesNext ? words[i + 1]! : undefined;
    if (flagName === spec.required) required = true;
    if (spec.pathValued?.has(flagName) && value !== undefined) paths.push(value);
    if (!spec.dropped(flagName)) extraArgs.push(...(takesNext ? [w, value!] : [w]));
    if (takesNext) i++;
  }
  if (!required) return { ok: false, reason: `its test script \`${script}\` runs ${name} without \`${spec.required}\`` };
  return detected(name, extraArgs, paths, env, how);
}

function detected(name: JsTestRunnerName, extraArgs: readonly string[], paths: readonly string[], env: Readonly<Record<string, string>>, how: string): TestRunnerDetection {
  return { ok: true, detected: { runner: testRunnerNamed(name), extraArgs, paths, env, how } };
}
