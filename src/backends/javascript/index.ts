import type { Backend } from '../api/index.js';
import { packageDependencies } from './dependencies.js';
import { importDependencies } from './import-inference.js';
import { DEFAULT_TEST_PATTERNS, javascriptSourceTarget, javascriptTestTarget } from './source-targets.js';
import { checkTasks, DEFAULT_TASKS, JAVASCRIPT_SCOPE } from './pipeline.js';
import { programVersionRebuilder, registerNodejsOptions } from './nodejs.js';
import { CHECK_SCRIPTS_OPTION, DEFAULT_CHECK_SCRIPTS } from './check-rules.js';
import { DECLARATION_INPUTS_OPTION } from './declaration-inputs.js';
import { TSC_WORKER_OPTION } from './tsc-worker-hint.js';
import { INSTALL_NETWORK_OPTION } from './pipeline.js';
import { nodeScriptRules, packageJsonRules } from './script-rules.js';
import { TEST_RUNNER_NAMES } from './file-test-runner.js';
import { javascriptTestRules } from './file-test-rules.js';
import { packageJsonTargets } from './synthetic-targets.js';
import { nodeScriptTarget, packageJsonTarget } from './target-types.js';
import { javascriptTailor } from './tailor.js';

// What rules (install, sandboxes, goals) build on: the workspace, its packages and their dependencies, as engine keys.
export { PackageJsonKey, DEPENDENCY_FIELDS, type PackageManifest, type PackageScript, type DeclaredDependency, type DependencyField } from './package-json.js';
export { PnpmWorkspaceKey, PNPM_WORKSPACE_FILE } from './pnpm-workspace.js';
export {
  JsWorkspaceKey,
  JsPackageAtKey,
  JsPackageDirsUnderKey,
  LOCKFILES,
  requireLockfile,
  requirePackageManager,
  type JsPackage,
  type JsWorkspace,
  type PackageManager,
  type PackageManagerName,
} from './workspace.js';
export { PackageDependenciesKey, type FirstPartyDependency, type PackageDependencies, type ThirdPartyDependency } from './package-dependencies.js';
export { JsTasksKey, resolveTask, DEFAULT_TASKS, JAVASCRIPT_SCOPE, type ResolvedTask, type TaskConfig } from './pipeline.js';
export { NODE_SCRIPT, PACKAGE_JSON, nodeScriptTarget, packageJsonTarget } from './target-types.js';
export { scriptTargetName } from './synthetic-targets.js';
export { JAVASCRIPT_SOURCE, JAVASCRIPT_TEST, JsSourcesConfigKey, SOURCE_EXTENSIONS, type JsSourcesConfig } from './source-targets.js';
export { FileImportsKey, type FileImports, type ImportedModule } from './imports.js';
export { FileDependenciesKey, type FileDependencies, type Resolution } from './resolve-imports.js';
export { FileInferenceKey } from './import-inference.js';
export { JsInstallKey, type JsInstall, type WorkspaceLink } from './install.js';
export { NODEJS_SCOPE } from './nodejs.js';


/**
 * JavaScript and TypeScript workspaces (npm, pnpm, yarn) without BUILD
 * files: packages and their scripts are inferred from package.json, the
 * pipeline comes from `[javascript] tasks` (README.md). One frozen install
 * per lockfile; scripts run in sandboxes that share its tree (README.md).
 */
export const javascriptBackend: Backend = {
  name: 'javascript',
  targets: [
    { type: packageJsonTarget, rules: packageJsonRules },
    { type: nodeScriptTarget, rules: nodeScriptRules },
    // A file puts itself in a dependent's sandbox (a per-file test's), at its path from the build root.
    { type: javascriptSourceTarget, rules: { sandbox: { sources: true } } },
    { type: javascriptTestTarget, rules: javascriptTestRules },
  ],
  inferrers: [packageDependencies, importDependencies],
  syntheticTargets: [packageJsonTargets],
  tailor: javascriptTailor,
  // The package manager's version is read from the machine, again every run (nodejs.ts).
  keyRebuilders: () => [programVersionRebuilder],
  registerOptions(registry) {
    registerNodejsOptions(registry);
    registry.registerScope({
      name: JAVASCRIPT_SCOPE,
      help: 'The JavaScript/TypeScript workspace: how package.json scripts run (the pipeline, as Turborepo\'s `tasks`).',
      isGoal: false,
    });
    registry.register({
      scope: JAVASCRIPT_SCOPE,
      name: 'tasks',
      type: 'dict',
      default: {},
      validate: (v) => checkTasks(v, 'tasks'),
      help: [
        'How scripts run, by script name, over the defaults; in trews.toml as tables: `[javascript.tasks.build]` with `depends_on = ["^build"]`, `outputs = ["dist/**"]`.',
        'Fields: depends_on (`^build`: the `build` script of first-party dependencies first; `build`: this package\'s own; `pkg#build`), outputs (globs relative to the package), inputs (globs; unset: the package\'s files minus outputs), extra_inputs (`//` for paths from the build root), env (variable names in the cache key; all others are stripped), cache, persistent, timeout (seconds), sandbox_isolation (`none` or `strict`, over `[sandbox] isolation`), network (under strict isolation).',
        'A field you set replaces that field of the default; the others keep it.',
        `Defaults: ${Object.entries(DEFAULT_TASKS)
          .map(([k, t]) => `${k} ${JSON.stringify(t)}`)
          .join('; ')}.`,
      ].join('\n'),
    });
    registry.register({
      scope: JAVASCRIPT_SCOPE,
      name: 'test_patterns',
      type: 'list',
      default: [...DEFAULT_TEST_PATTERNS],
      help: 'Globs, relative to each package, of its test files: their per-file targets are `javascript_test`, the others `javascript_source`.',
    });
    registry.register({
      scope: JAVASCRIPT_SCOPE,
      name: 'test_granularity',
      type: 'enum',
      choices: ['auto', 'file', 'package'],
      default: 'auto',
      help: "How `trews test` runs a package's tests: `file`, each test file as its own cached process (`javascript_test` targets) over the files its imports reach, so an edit reruns only the tests it can affect; `package`, the package's `test` script; `auto`, per file when the runner is known (`test_runner`, or read from the `test` script: node --test, vitest, jest, mocha), else the script.",
    });
    registry.register({
      scope: JAVASCRIPT_SCOPE,
      name: 'test_runner',
      type: 'enum',
      choices: ['auto', ...TEST_RUNNER_NAMES],
      default: 'auto',
      help: "The runner of every package's test files when they run per file; `auto`: the one each package's `test` script runs.",
    });
    registry.register({
      scope: JAVASCRIPT_SCOPE,
      name: 'unresolved_imports',
      type: 'enum',
      choices: ['warn', 'error'],
      default: 'warn',
      help: "What an import that resolves to no file nor declared package is: a warning `trews dependencies` prints with its file:line:col, or an error that stops every goal that reads the file's dependencies.",
    });
    registry.register({
      scope: JAVASCRIPT_SCOPE,
      name: INSTALL_NETWORK_OPTION,
      type: 'bool',
      default: true,
      help: "Whether the install keeps the network under strict isolation (`[sandbox] isolation = \"strict\"`). On by default: `npm ci --prefer-offline` (pnpm's, yarn's) fetches what the user's download cache lacks, and the lockfile pins every package's integrity, so the network cannot change what is installed. Off: the install works from the download cache alone (a package missing there fails it). Part of the install's cache key under strict isolation.",
    });
    registry.register({
      scope: JAVASCRIPT_SCOPE,
      name: CHECK_SCRIPTS_OPTION,
      type: 'list',
      default: [...DEFAULT_CHECK_SCRIPTS],
      help: "The scripts `trews check` runs to type-check a package, by name: the first one its package.json has, run as that script's task says (`depends_on`, `env`, `timeout`); a package with none of them and a tsconfig.json gets `tsc --noEmit -p tsconfig.json`. Empty: always tsc.",
    });
    registry.register({
      scope: JAVASCRIPT_SCOPE,
      name: DECLARATION_INPUTS_OPTION,
      type: 'bool',
      default: true,
      help: "Whether a script that is a plain TypeScript compile (`tsc`, `tsc -p X`, `tsc -b`, with no `paths` or `references` in its tsconfig) sees only the declarations (`*.d.ts`, their maps, `*.json`) of the first-party dependencies whose builds emit them, not their JavaScript nor their sources: an edit that leaves a dependency's declarations as they were then leaves the compile's inputs, and its cache key, as they were (early cutoff). A dependency with no declaration output is seen whole. Off: every script sees its dependencies' full outputs and files.",
    });
    registry.register({
      scope: JAVASCRIPT_SCOPE,
      name: TSC_WORKER_OPTION,
      type: 'bool',
      default: true,
      help: "Whether a script that is one plain `tsc` command (`tsc`, `tsc -p X --flags`), and `trews check`'s tsc, runs in a persistent TypeScript worker on this machine (without strict isolation) instead of a new node: typescript, lib.*.d.ts and @types are loaded and parsed once, not per package. Its results are the spawned tsc's, byte for byte, and its cache key is the same; what it cannot run exactly as tsc (`--build`, watch, incremental, pretty, …) is spawned. Off: every tsc is spawned.",
    });
  },
};
