import type { FieldSpec, FieldValue, TargetType } from '../../targets/index.js';

/**
 * The shell backend's target types, with Pants' names and field meanings
 * (https://www.pantsbuild.org/stable/reference/targets/shell_command and its
 * siblings). Differences are stated in the help texts and in README.md.
 */

const positive = (v: FieldValue): string | undefined => (typeof v === 'number' && v <= 0 ? `must be a positive number of seconds, got ${v}` : undefined);

const command = (what: string): FieldSpec => ({
  name: 'command',
  type: { kind: 'string' },
  required: true,
  help: `The command line ${what}, run as \`bash -c "<command>"\`. bash is looked up like a tool (on \`[shell] executable_search_paths\`) and is always on the PATH.`,
});

const tools: FieldSpec = {
  name: 'tools',
  type: { kind: 'string_list' },
  default: [],
  help: 'Names of the programs the command may run, e.g. ["node", "cat", "mkdir"]. Each is looked up on `[shell] executable_search_paths` (default: the PATH of the trews client) and put on the process\'s PATH; nothing else is. The content digest of each program is part of the cache key, so upgrading one re-runs what uses it.',
};

const runnableDependencies: FieldSpec = {
  name: 'runnable_dependencies',
  type: { kind: 'dependencies' },
  default: [],
  help: 'Addresses of `system_binary` targets to put on the PATH, each under its target name (as Pants does). Their fingerprint (or file digest) is part of the cache key.',
};

const executionDependencies: FieldSpec = {
  name: 'execution_dependencies',
  type: { kind: 'dependencies' },
  default: null,
  help: "Addresses of the targets the command needs in its sandbox: files and sources at their paths from the build root, the outputs of other `shell_command`s and `adhoc_tool`s, the packages of `archive`s. Their dependencies come too, transitively. When unset, the target's `dependencies` are used instead; when set, `dependencies` only say what dependents of this target's outputs need (Pants' output dependencies).",
};

const outputFiles: FieldSpec = {
  name: 'output_files',
  type: { kind: 'string_list' },
  default: [],
  help: 'Files the command writes, relative to `workdir`, captured as its outputs. Dependents see them at their path from the build root (workdir/file). A declared output that is not produced is an error.',
};

const outputDirectories: FieldSpec = {
  name: 'output_directories',
  type: { kind: 'string_list' },
  default: [],
  help: 'Directories the command writes, relative to `workdir`, captured whole with everything in them.',
};

const timeout = (dflt: number | null, extra: string): FieldSpec => ({
  name: 'timeout',
  type: { kind: 'int' },
  default: dflt,
  validate: positive,
  help: `Seconds the command may run before it is killed (with everything it started)${extra}.`,
});

const extraEnvVars: FieldSpec = {
  name: 'extra_env_vars',
  type: { kind: 'string_list' },
  default: [],
  help: 'Environment variables for the command beyond PATH: `NAME` passes the value of NAME from the environment of the trews client (omitted when it is unset there), `NAME=value` sets it. Both are part of the cache key.',
};

const environment: FieldSpec = {
  name: 'environment',
  type: { kind: 'string' },
  default: null,
  help: 'The name of the environment the command runs in: `__local__` (this machine), or a name `[environments] names` in trews.toml maps to a local_environment or remote_environment target. Unset: `[environments] default`. A remote environment runs it on `remote_execution_server`, with that environment\'s platform, its tools found on the worker.',
};

const workdir: FieldSpec = {
  name: 'workdir',
  type: { kind: 'string' },
  default: '.',
  help: "The working directory of the command, as in Pants: `.` (the default) is the BUILD file's directory and `./x` is relative to it; `/` (or '') is the build root and `/x` is relative to it; any other path is relative to the build root.",
};

const cacheScope: FieldSpec = {
  name: 'cache_scope',
  type: { kind: 'enum', choices: ['success', 'session'] },
  default: 'success',
  help: 'Which results are reused: `success` (the default) caches successful runs in the local cache; `session` reuses a result only within one trews run (for commands that read something the cache key cannot see).',
};

export const shellSourceTarget: TargetType = {
  alias: 'shell_source',
  help: 'A single Bash script. It is put in the sandbox of processes that depend on it, at its path from the build root, and can be the `runnable` of an `adhoc_tool`.',
  fields: [{ name: 'source', type: { kind: 'source' }, required: true, help: "The script, relative to the BUILD file's directory." }],
};

export const shellSourcesTarget: TargetType = {
  alias: 'shell_sources',
  help: 'Generates a `shell_source` target for each file matched by `sources`, addressed `dir/name.sh:<this name>`.',
  fields: [
    {
      name: 'sources',
      type: { kind: 'sources' },
      default: ['*.sh', '!*_test.sh', '!test_*.sh', '!tests.sh'],
      help: "Globs of scripts relative to the BUILD file's directory. Prefix a glob with ! to exclude. The default, as in Pants, takes every .sh file except tests.",
    },
  ],
  generator: { generates: 'shell_source', sourceField: 'source' },
};

export const shellCommandTarget: TargetType = {
  alias: 'shell_command',
  help: 'A hermetic build step: runs a Bash command in a sandbox holding only its execution dependencies and tools, and captures the files it writes as outputs, which dependents see as files. The result is cached by the digest of everything that goes in.',
  fields: [
    command('command of the build step'),
    tools,
    runnableDependencies,
    executionDependencies,
    outputFiles,
    outputDirectories,
    timeout(30, ' (default 30, as in Pants)'),
    extraEnvVars,
    environment,
    workdir,
    cacheScope,
  ],
};

export const testShellCommandTarget: TargetType = {
  alias: 'test_shell_command',
  help: 'A test: runs a Bash command in a sandbox like `shell_command` does; `trews test` reports it passed when it exits 0.',
  fields: [
    command('command of the test'),
    tools,
    runnableDependencies,
    executionDependencies,
    timeout(null, '; unset means `[test] timeout_default`, and `[test] timeout_maximum` caps it'),
    extraEnvVars,
    environment,
    workdir,
    { name: 'skip_tests', type: { kind: 'bool' }, default: false, help: 'If true, `trews test` does not run this test.' },
  ],
};

export const runShellCommandTarget: TargetType = {
  alias: 'run_shell_command',
  help: "A command for `trews run`: runs in the workspace itself (not a sandbox), attached to the terminal: stdin is passed through and its exit code is trews' exit code. Arguments after `--` are its $1, $2…; $0 is its address. Its execution dependencies are built first and put in a temporary directory named by $CHROOT (and by `{chroot}` in the command), as Pants does.",
  fields: [
    command('command to run in the workspace'),
    executionDependencies,
    {
      ...workdir,
      help: "The directory the command runs in, as for `shell_command`: `.` (the default) is the BUILD file's directory, `/` the build root.",
    },
  ],
};

export const adhocToolTarget: TargetType = {
  alias: 'adhoc_tool',
  help: 'A hermetic build step that runs a program (the `runnable`) with `args` in a sandbox, capturing its outputs like `shell_command` does; `stdout` and `stderr` can be captured into files.',
  fields: [
    {
      name: 'runnable',
      type: { kind: 'string' },
      required: true,
      help: 'Address of what to run: a `system_binary` (the binary it found) or a `shell_source` (run with bash; the script is put in the sandbox).',
    },
    { name: 'args', type: { kind: 'string_list' }, default: [], help: 'Arguments passed to the runnable.' },
    tools,
    runnableDependencies,
    executionDependencies,
    outputFiles,
    outputDirectories,
    { name: 'stdout', type: { kind: 'string' }, default: null, help: 'A file (relative to `workdir`) to capture the standard output into; it becomes one of the outputs.' },
    { name: 'stderr', type: { kind: 'string' }, default: null, help: 'A file (relative to `workdir`) to capture the standard error into; it becomes one of the outputs.' },
    timeout(30, ' (default 30)'),
    extraEnvVars,
    environment,
    workdir,
    cacheScope,
  ],
};

export const systemBinaryTarget: TargetType = {
  alias: 'system_binary',
  help: 'A program installed on this machine, found by name. `trews run` runs it (arguments after `--` are passed); as the `runnable` of an `adhoc_tool` or in `runnable_dependencies`, it is put on the sandbox PATH. Its fingerprint (or its file digest) is part of the cache key.',
  fields: [
    { name: 'binary_name', type: { kind: 'string' }, required: true, help: 'The file name of the program, e.g. "node".' },
    {
      name: 'fingerprint',
      type: { kind: 'string' },
      default: null,
      help: 'A regular expression the output (stdout then stderr) of running the program with `fingerprint_args` must contain; the first program found that matches is used, and that output (not the file digest) becomes its part of the cache key. Unset: the first program found is used.',
    },
    { name: 'fingerprint_args', type: { kind: 'string_list' }, default: [], help: 'Arguments for the fingerprint run, e.g. ["--version"].' },
    {
      name: 'extra_search_paths',
      type: { kind: 'string_list' },
      default: [],
      help: 'Absolute directories searched before `[system-binaries] system_binary_paths`.',
    },
  ],
};

export const archiveTarget: TargetType = {
  alias: 'archive',
  help: 'A tar or zip archive of files and packages, made by `trews package`. Files keep their paths from the build root; packages are placed at their output paths.',
  fields: [
    { name: 'format', type: { kind: 'enum', choices: ['tar', 'tar.gz', 'zip'] }, required: true, help: 'The archive format.' },
    {
      name: 'files',
      type: { kind: 'dependencies' },
      default: [],
      help: 'Addresses of what to put in the archive at its path from the build root: `file`/`files`/`resources` targets, sources, and the outputs of `shell_command`s and `adhoc_tool`s.',
    },
    { name: 'packages', type: { kind: 'dependencies' }, default: [], help: 'Addresses of other packageable targets (archives) to include, at their output paths.' },
    {
      name: 'output_path',
      type: { kind: 'string' },
      default: null,
      help: 'Where the archive goes, relative to the dist directory. Unset: the BUILD directory with dots for slashes, then the target name and the extension, as in Pants (`src.app/site.tar.gz`).',
    },
  ],
};
