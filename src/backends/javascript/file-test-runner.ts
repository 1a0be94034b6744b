import type { TestCase } from '../api/index.js';
import type { PackageManifest } from './package-json.js';
import { detectTestRunner, JS_TEST_RUNNER_NAMES, testRunnerNamed, type JsTestCommand, type JsTestRunnerName } from './test-runners/index.js';

/** The one place the per-file test rules meet the runners (test-runners/): a package's runner with what its script adds. */
export interface FileTestRunner {
  readonly name: JsTestRunnerName;
  /** The paths the `test` script names (`dist/`), relative to the package: where the runner looks. */
  readonly paths: readonly string[];
  /** Whether it runs TypeScript files as they are: vitest and jest do, node with a loader (`--import tsx`, `--experimental-strip-types`). */
  readonly readsTypeScript: boolean;
  command(files: readonly string[], opts: { reportFile: string; coverageFile?: string }): JsTestCommand;
  parseReport(text: string, opts: { packageDir: string; sandboxRoot?: string }): readonly TestCase[];
}

/** Flags that make node load TypeScript (a loader or hook: tsx, ts-node, @swc-node; Node's own type stripping). */
const LOADER_FLAG = /^(--import|--require|-r|--loader|--experimental-loader|--experimental-strip-types|--experimental-transform-types)(=|$)/;

export const TEST_RUNNER_NAMES: readonly string[] = JS_TEST_RUNNER_NAMES;

/**
 * The runner of a package's test files: `configured` (`[javascript]
 * test_runner`), else the one its `test` script runs (with the script's
 * own flags and variables kept: `--import tsx`, `NODE_ENV=test`); null
 * when neither says.
 */
export function fileTestRunner(manifest: PackageManifest, configured: string | null): FileTestRunner | null {
  const dependencies: Record<string, string> = {};
  for (const d of manifest.dependencies) dependencies[d.name] = d.range;
  const testScript = manifest.scripts.find((s) => s.name === 'test')?.command;
  const detected = detectTestRunner({ ...(testScript !== undefined ? { testScript } : {}), dependencies });
  const runner = configured !== null ? testRunnerNamed(configured as JsTestRunnerName) : detected?.runner;
  if (runner === undefined) return null;
  // The script's flags belong to its runner only: a configured other runner would not take them.
  const same = detected !== null && detected.runner.name === runner.name;
  const extraArgs = same ? detected.extraArgs : [];
  const env = same ? detected.env : {};
  return {
    name: runner.name,
    paths: same ? detected.paths : [],
    readsTypeScript: runner.name !== 'node' || extraArgs.some((a) => LOADER_FLAG.test(a)),
    command(files, opts) {
      const c = runner.command(files, { ...opts, extraArgs });
      return { ...c, env: { ...env, ...c.env } };
    },
    parseReport: (text, opts) => runner.parseReport(text, opts),
  };
}
