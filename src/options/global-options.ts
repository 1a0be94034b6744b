import type { OptionRegistry } from './registry.js';
import { GLOBAL, type OptionSpec, type OptionValue } from './types.js';

const UNITS: Readonly<Record<string, number>> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/**
 * `5GiB`, `500MB`, `1.5GiB`, `1048576` → bytes; undefined when the text is not
 * a size. Units are case-insensitive; decimal (`MB`) and binary (`MiB`) prefixes
 * mean what they say.
 */
export function parseByteSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (m === null) return undefined;
  const unit = (m[2] ?? '').toLowerCase();
  const scale = unit === '' ? 1 : UNITS[unit];
  if (scale === undefined) return undefined;
  const n = Math.floor(Number(m[1]) * scale);
  return Number.isSafeInteger(n) ? n : undefined;
}

const byteSize = (v: OptionValue): string | undefined =>
  typeof v === 'string' && parseByteSize(v) !== undefined ? undefined : `${JSON.stringify(v)} is not a size such as 10GiB, 500MB or 1048576`;

const atLeast =
  (min: number) =>
  (v: OptionValue): string | undefined =>
    typeof v === 'number' && v < min ? `must be at least ${min}, got ${v}` : undefined;

const keyValueList = (v: OptionValue): string | undefined => {
  const bad = (v as readonly unknown[]).find((x) => typeof x !== 'string' || !/^[^=]+=/.test(x));
  return bad === undefined ? undefined : `${JSON.stringify(bad)} is not KEY=VALUE`;
};

type Def = Omit<OptionSpec, 'scope'>;

/** The GLOBAL options, with Pants' names so Pants users' trews.toml reads the same. */
const GLOBAL_OPTIONS: readonly Def[] = [
  // Core.
  {
    name: 'build_patterns',
    type: 'list',
    default: ['BUILD', 'BUILD.*', '!BUILD.bazel', '!BUILD.bzl'],
    help: "File names (globs) of BUILD files; a name matching a pattern that starts with ! is not one. The default leaves Bazel's BUILD.bazel to Bazel.",
    daemon: true,
    advanced: true,
  },
  {
    name: 'ignore',
    type: 'list',
    default: ['.*/', '/dist/'],
    help: 'Paths to ignore everywhere, in gitignore syntax (like Pants `pants_ignore`); prefix with ! to re-include.',
    daemon: true,
  },
  {
    name: 'ignore_use_gitignore',
    type: 'bool',
    default: true,
    help: 'Also ignore what the build root .gitignore ignores.',
    daemon: true,
    advanced: true,
  },
  {
    name: 'build_file_max_size',
    type: 'string',
    default: '10MiB',
    help: 'The largest BUILD file (or .gitignore) trews reads, e.g. 10MiB, 500KB or a number of bytes; a bigger one is an error.',
    validate: (v) => byteSize(v) ?? (parseByteSize(v as string)! < 1 ? 'must be at least 1 byte' : undefined),
    daemon: true,
    advanced: true,
  },
  {
    name: 'local_store_dir',
    type: 'path',
    default: null,
    help: 'Directory of the local content-addressed store and action cache; unset means $XDG_CACHE_HOME/trews, or ~/.cache/trews.',
    daemon: true,
    advanced: true,
  },
  {
    name: 'local_store_max_size',
    type: 'string',
    default: '10GiB',
    help: 'Size the local store is garbage-collected down to, e.g. 10GiB, 500MB or a number of bytes.',
    validate: byteSize,
    advanced: true,
  },
  {
    name: 'tag',
    type: 'list',
    default: [],
    help: 'Only act on targets with these tags; `-tag` excludes a tag, and one entry may list several separated by commas.',
  },
  {
    name: 'level',
    type: 'enum',
    choices: ['trace', 'debug', 'info', 'warn', 'error'],
    default: 'info',
    help: 'Minimum level of messages written to the log.',
    daemon: true,
  },
  { name: 'dynamic_ui', type: 'bool', default: true, help: 'Show live progress of running work when the terminal allows it.' },
  {
    name: 'colors',
    type: 'bool',
    default: true,
    help: 'Colour the console on a terminal (results, cache sources, errors). Off with --colors=false or NO_COLOR; FORCE_COLOR or an explicit --colors colours a pipe too.',
  },
  {
    name: 'trace',
    type: 'bool',
    default: false,
    help: 'Write a Chrome trace of the run (open it in https://ui.perfetto.dev or chrome://tracing): every process with its start, duration, cache source, exit code, argv and digests, and the engine\'s phases. Written to trace_file.',
  },
  {
    name: 'trace_file',
    type: 'path',
    default: null,
    help: 'Where --trace writes (relative to the working directory); setting it turns tracing on. Unset: .trews.d/trace.json in the build root.',
  },
  {
    name: 'run_history',
    type: 'int',
    default: 20,
    validate: atLeast(0),
    help: 'Keep the trace (the --trace format) of the last N runs that ran processes under .trews.d/runs/, which `trews graph --runs` draws as timelines. 0 keeps none.',
  },
  {
    name: 'keep_sandboxes',
    type: 'enum',
    choices: ['never', 'on_failure', 'always'],
    default: 'never',
    help: 'Keep process sandboxes for debugging instead of deleting them, and log where they are.',
  },
  {
    name: 'process_execution_local_parallelism',
    type: 'int',
    default: null,
    help: 'Maximum number of processes run locally at once; unset means the number of CPU cores.',
    validate: atLeast(1),
  },
  {
    name: 'persist_graph',
    type: 'bool',
    default: true,
    help: 'Keep the graph in .trews.d/graph (without the daemon, at the end of each run that changed it; a daemon, as it stops) and start the next process from it (a run without the daemon, or a new daemon\'s first run): paths are read again only where their stat changed, everything else is re-validated, so a run whose inputs did not change costs about what a warm daemon run does. The file is ignored when trews, the options it depends on or the local store changed. False: every such run starts from an empty graph.',
  },
  {
    name: 'replay_no_ops',
    type: 'bool',
    default: true,
    help: "Without a daemon (`--no-daemon`, TREWS_DAEMON=false) and with the native client built: record a `build`, `check`, `test`, `package` or `list` that found everything as the kept graph had it and wrote nothing, in .trews.d/replay, and answer the next identical command line (arguments, directory, environment; output to no terminal) from that record without starting Node, while every file, program and directory it rests on has the same stat. False: no run is recorded, and the next run removes its command line's record.",
  },
  { name: 'print_stacktrace', type: 'bool', default: false, help: 'Print the full stack trace of an internal error to the terminal, not just to the log.' },

  // Remote execution and caching.
  { name: 'remote_execution', type: 'bool', default: false, help: 'Run processes on the remote execution server instead of locally.' },
  { name: 'remote_cache_read', type: 'bool', default: false, help: 'Look up process results in the remote action cache before running them.' },
  { name: 'remote_cache_write', type: 'bool', default: false, help: 'Upload results of locally run processes to the remote cache.' },
  {
    name: 'remote_store_server',
    aliases: ['remote_store_address'],
    type: 'string',
    default: null,
    help: 'Remote CAS and action cache: a REAPI server as host:port, grpc://host:port or grpcs://host:port, or an HTTP cache (bazel-remote, many CI caches: /ac/ and /cas/ paths) as http://host:port[/path] or https://…; HTTP caches serve caching only, not remote execution.',
  },
  {
    name: 'remote_execution_server',
    aliases: ['remote_execution_address'],
    type: 'string',
    default: null,
    help: 'Remote execution server (REAPI) as host:port, grpc://host:port or grpcs://host:port (often the same address as remote_store_server).',
  },
  { name: 'remote_instance_name', type: 'string', default: null, help: 'REAPI instance name sent with every remote request.' },
  {
    name: 'remote_execution_extra_platform_properties',
    type: 'list',
    default: [],
    help: 'Extra platform properties of remotely executed processes, each KEY=VALUE (e.g. OSFamily=linux).',
    validate: keyValueList,
  },
  {
    name: 'process_execution_remote_parallelism',
    type: 'int',
    default: 128,
    help: 'Maximum number of processes run remotely at once.',
    validate: atLeast(1),
  },
  { name: 'remote_ca_certs_path', type: 'path', default: null, help: 'PEM file of CA certificates for the remote servers; setting it turns on TLS.' },
  { name: 'remote_client_certs_path', type: 'path', default: null, help: 'PEM client certificate chain for mutual TLS with the remote servers.' },
  { name: 'remote_client_key_path', type: 'path', default: null, help: 'PEM private key of the client certificate for mutual TLS.' },
  {
    name: 'remote_oauth_bearer_token_path',
    type: 'path',
    default: null,
    help: 'File whose content is sent to the remote servers as `authorization: Bearer <token>`.',
  },
  { name: 'remote_store_headers', type: 'dict', default: {}, help: 'Headers sent with every request to the remote store.' },
  { name: 'remote_execution_headers', type: 'dict', default: {}, help: 'Headers sent with every request to the remote execution server.' },
  {
    name: 'remote_store_chunk_bytes',
    type: 'int',
    default: 1048576,
    help: 'Size of the chunks blobs are streamed in to and from the remote store.',
    validate: atLeast(1),
    advanced: true,
  },
  {
    name: 'remote_store_rpc_retries',
    type: 'int',
    default: 2,
    help: 'Times a failed remote store request is retried.',
    validate: atLeast(0),
    advanced: true,
  },
  {
    name: 'remote_store_rpc_timeout_millis',
    type: 'int',
    default: 30000,
    help: 'Timeout of one remote store request, in milliseconds.',
    validate: atLeast(1),
    advanced: true,
  },
  {
    name: 'remote_cache_rpc_timeout_millis',
    type: 'int',
    default: 1500,
    help: 'Timeout of one remote action cache request, in milliseconds.',
    validate: atLeast(1),
    advanced: true,
  },
  {
    name: 'remote_store_batch_api_size_limit',
    type: 'int',
    default: 4194304,
    help: 'Largest total size of blobs sent in one batch request; larger blobs are streamed.',
    validate: atLeast(1),
    advanced: true,
  },
  {
    name: 'remote_cache_warnings',
    type: 'enum',
    choices: ['ignore', 'first_only', 'backoff', 'always'],
    default: 'backoff',
    help: 'How often to warn about remote cache errors: never, once, less and less often, or every time.',
    advanced: true,
  },
  {
    name: 'cache_content_behavior',
    type: 'enum',
    choices: ['fetch', 'validate', 'defer'],
    default: 'fetch',
    help: 'On a remote cache hit, download outputs, only check they exist remotely, or fetch them when needed.',
    advanced: true,
  },
  {
    name: 'remote_execution_overall_deadline_secs',
    type: 'int',
    default: 3600,
    help: 'Time a remotely executed process may take in all, including queueing, in seconds.',
    validate: atLeast(1),
    advanced: true,
  },
  {
    name: 'remote_execution_queue_warn_after_secs',
    type: 'int',
    default: 60,
    help: 'Warn when a remote process has waited this many seconds without a worker taking it (0: never).',
    validate: atLeast(0),
    advanced: true,
  },

  // Daemon.
  { name: 'daemon', type: 'bool', default: true, help: 'Run through the trewsd daemon, which keeps the build graph warm between runs.' },
  {
    name: 'daemon_max_memory_usage',
    type: 'string',
    default: '1GiB',
    help: 'Memory use above which the daemon restarts, e.g. 1GiB.',
    validate: byteSize,
    daemon: true,
    advanced: true,
  },
  {
    name: 'daemon_invalidation_globs',
    type: 'list',
    default: [],
    help: 'Globs of files whose change restarts the daemon, beyond those trews watches itself.',
    daemon: true,
    advanced: true,
  },
  {
    name: 'daemon_idle_timeout',
    type: 'int',
    default: 10800,
    help: 'Seconds without a client after which the daemon exits.',
    validate: atLeast(1),
    daemon: true,
    advanced: true,
  },
  {
    name: 'daemon_graph_idle_runs',
    type: 'int',
    default: 30,
    help: "The daemon forgets what none of its last this-many runs used — graph nodes (with everything that depends on them) and its store memos (decoded trees, blobs known present or verified, tree results; staged trees are written to the store first) — so its memory stays bounded over a long session; asked for again, it is recomputed. 0 never forgets.",
    validate: atLeast(0),
    daemon: true,
    advanced: true,
  },
  {
    name: 'daemon_graph_max_nodes',
    type: 'int',
    default: 0,
    help: "Above this many nodes in the daemon's graph after a run, it forgets the least recently used first (never what the latest run used). 0: no bound beyond daemon_graph_idle_runs.",
    validate: atLeast(0),
    daemon: true,
    advanced: true,
  },
  {
    name: 'daemon_timeout_when_multiple_invocations',
    type: 'float',
    default: 60,
    help: "Seconds a run waits for the daemon's runs in progress when they have other options or environment variables (its graph holds one set at a time; runs with the same ones go side by side). 0 fails at once.",
    validate: atLeast(0),
    advanced: true,
  },

  { name: 'loop', type: 'bool', default: false, help: 'Run the goals again each time an input file changes.' },
];

/** Registers the GLOBAL options every part of trews may read. */
export function registerGlobalOptions(registry: OptionRegistry): void {
  for (const def of GLOBAL_OPTIONS) registry.register({ ...def, scope: GLOBAL });
}
