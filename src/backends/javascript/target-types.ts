import type { FieldValue, TargetType } from '../../targets/index.js';
import { networkField, sandboxIsolationField } from '../api/index.js';
import { checkTask, DEFAULT_TASKS, JAVASCRIPT_SCOPE } from './pipeline.js';

/**
 * The JavaScript backend's target types, after Pants' `package_json` and
 * its generated `node_build_script`s. Both are inferred from package.json
 * files (synthetic-targets.ts); a BUILD file declares one only to configure
 * the inferred target of the same name (README.md).
 */

export const PACKAGE_JSON = 'package_json';
export const NODE_SCRIPT = 'node_script';

const inferred = (what: string): string => `${what}, read from package.json. Inferred: a BUILD file cannot set it.`;

const checkScripts = (v: FieldValue): string | undefined => {
  if (v === null) return undefined;
  for (const [script, task] of Object.entries(v as Record<string, unknown>)) {
    const problem = checkTask(task, script);
    if (problem !== undefined) return problem;
  }
  return undefined;
};

export const packageJsonTarget: TargetType = {
  alias: PACKAGE_JSON,
  help: [
    'A package of the JavaScript workspace: its package.json and the files of its directory (minus node_modules, ignored files, the outputs of its scripts and nested packages).',
    'Inferred for the root package and every package the workspace globs select (no BUILD file needed), addressed `dir:dir-name` (`packages/lib:lib`; the root package is `//:<build root name>`), so `packages/lib` names it.',
    'It depends on the workspace packages its `dependencies`, `devDependencies`, `peerDependencies` and `optionalDependencies` link (`workspace:*`, `*`, or a range their version satisfies).',
    'Declare `package_json(...)` in the directory\'s BUILD file to configure it: `scripts`, `dependencies`, `tags`, and `name` (the target\'s name).',
  ].join(' '),
  fields: [
    { name: 'package', type: { kind: 'string' }, default: null, help: inferred('The npm name of the package (`name`)') },
    { name: 'version', type: { kind: 'string' }, default: null, help: inferred('The version of the package (`version`)') },
    {
      name: 'scripts',
      type: { kind: 'dict' },
      default: {},
      validate: checkScripts,
      help: `How this package's scripts run, by script name, over \`[${JAVASCRIPT_SCOPE}] tasks\` and the defaults: e.g. scripts={"build": {"outputs": ["out/**"], "env": ["NODE_ENV"], "timeout": 600}}. Fields: depends_on, outputs, inputs, extra_inputs, env, cache, persistent, timeout, sandbox_isolation, network (see \`trews help node_script\`). Each names a script of package.json.`,
    },
    {
      ...sandboxIsolationField,
      help: `${sandboxIsolationField.help} Applies to the package's own processes (\`trews check\` by tsc, \`trews package\`) and is the default of its scripts.`,
    },
    { ...networkField, help: `${networkField.help} The default of its scripts too.` },
  ],
};

export const nodeScriptTarget: TargetType = {
  alias: NODE_SCRIPT,
  help: [
    'A script of a package.json (`npm run <script>`), one target per script, inferred: addressed `dir:<script>` (`packages/lib:build`).',
    'A script name that is not a valid target name has each other character replaced by `.` (`build:types` → `build.types`); a script named like its package\'s target gets `.script` appended (`apps/docs:docs.script`).',
    'How it runs (depends_on, outputs, inputs, env…) comes from, lowest first: the defaults by script name, `[javascript] tasks.<script>` in trews.toml, `package_json(scripts={...})` and `node_script(name=..., ...)` in the package\'s BUILD file.',
    `\`trews help ${JAVASCRIPT_SCOPE}\` shows the defaults by script name (for ${Object.keys(DEFAULT_TASKS).map((k) => `\`${k}\``).join(', ')}); any other script has no dependencies and no outputs, and is cached.`,
    'It depends on its package\'s `package_json` target and on the scripts `depends_on` names.',
  ].join(' '),
  fields: [
    { name: 'script', type: { kind: 'string' }, default: null, help: inferred('The script\'s name in `scripts`') },
    { name: 'command', type: { kind: 'string' }, default: null, help: inferred('The script\'s command') },
    { name: 'package', type: { kind: 'string' }, default: null, help: inferred('The npm name of its package') },
    {
      name: 'depends_on',
      type: { kind: 'string_list' },
      default: [],
      help: 'Scripts that run before this one (Turborepo\'s `dependsOn`): `^build` is the `build` script of each workspace package this package depends on (through packages without one, to theirs), `build` is this package\'s own, `pkg#build` is that package\'s.',
    },
    { name: 'outputs', type: { kind: 'string_list' }, default: [], help: 'Globs of the files the script writes, relative to its package (`dist/**`); `!` excludes. They are not sources of the package.' },
    {
      name: 'inputs',
      type: { kind: 'string_list' },
      default: null,
      help: 'Globs of the files the script reads, relative to its package; `!` excludes. Unset: every file of the package (minus outputs, ignored files and node_modules). package.json is always one.',
    },
    { name: 'extra_inputs', type: { kind: 'string_list' }, default: [], help: 'Files read besides `inputs`: globs relative to the package, or to the build root when they start with `//` (`//tsconfig.base.json`).' },
    {
      name: 'env',
      type: { kind: 'string_list' },
      default: [],
      help: 'Names of environment variables the script sees, whose values are part of its cache key; `NAME_*` takes every variable with that prefix. Every other variable is stripped.',
    },
    {
      name: 'skip_tests',
      type: { kind: 'bool' },
      default: null,
      help: 'Whether `trews test` leaves this script alone. Unset: every script but `test` is skipped, so `trews test ::` runs each package\'s `test` script; set it to false to make another script (`e2e`) a test.',
    },
    { name: 'cache', type: { kind: 'bool' }, default: true, help: 'Whether a result may be reused. False for scripts whose effect is not their outputs.' },
    { name: 'persistent', type: { kind: 'bool' }, default: false, help: 'A long-running process (a dev server, a watcher): never cached; meant for `trews run`.' },
    {
      name: 'timeout',
      type: { kind: 'int' },
      default: null,
      validate: (v) => (typeof v === 'number' && v <= 0 ? `must be a positive number of seconds, got ${v}` : undefined),
      help: 'Seconds the script may run before it is killed. Unset: the default of the goal that runs it.',
    },
    {
      name: 'environment',
      type: { kind: 'string' },
      default: null,
      help: 'The environment the script runs in: `__local__`, or a name `[environments] names` maps to a local_environment (checked against its `compatible_platforms`) or a remote_environment (node, sh and the package manager are then found by name on its `executable_search_paths` on the worker). Unset: `[environments] default`.',
    },
    { ...sandboxIsolationField, default: null, help: `${sandboxIsolationField.help} Unset: its package_json's, else the option.` },
    networkField,
  ],
};
