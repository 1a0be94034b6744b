import { execFileSync, spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, homedir, tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Writable } from 'node:stream';
import { appendFileSync } from 'node:fs';
import { LOG_LEVELS, isFailureError, pidExists, type LogLevel, type Logger } from '../core/index.js';
import type { PlatformProperty } from '../exec/index.js';
import { createRemoteServer } from '../remote/server/index.js';
import { createLocalStore, defaultLocalStoreDir } from '../store/index.js';

/** What `trews remote-server` needs from the process that runs it. */
export interface RemoteServerIo {
  readonly stdout: Writable;
  readonly stderr: Writable;
  /** Aborted on SIGINT / SIGTERM: the server stops cleanly and the function returns. */
  readonly signal: AbortSignal;
  /** Relative paths in flags are relative to this. */
  readonly cwd: string;
  /** For the default store directory ($XDG_CACHE_HOME/trews). */
  readonly env: Readonly<Record<string, string | undefined>>;
}

const USAGE = `usage: trews remote-server [options]

Serves the Remote Execution API v2 (cache and execution) for Bazel, Pants,
trews and any other REAPI client.

  --listen HOST:PORT        address to listen on (default 127.0.0.1:8980; port 0 picks one)
  --instance-name NAME      the instance name clients must use (default: empty)
  --store-dir DIR           CAS and action cache (default: $XDG_CACHE_HOME/trews or ~/.cache/trews)
  --work-dir DIR            sandboxes and partial uploads (default: DIR/remote-server under the store)
  --workers N               actions run at once; more are queued (default: number of CPUs)
  --platform KEY=VALUE      a platform property of this machine (repeatable)
  --run-as USER             run actions as this user (e.g. nobody), not as the server's
                            own; needs root. The store and token file stay out of its reach.
  --isolation MODE          strict (default; Linux, needs bubblewrap): each action sees only
                            its inputs and the system directories, a private /tmp, no
                            network, no other action; none: a sandbox directory only
  --tls-cert FILE           PEM certificate chain: serve TLS (with --tls-key)
  --tls-key FILE            PEM private key of --tls-cert
  --token-file FILE         accepted bearer tokens, one per line: every call needs
                            \`authorization: Bearer <token>\`
  --max-blob-size SIZE      largest blob accepted, e.g. 512M, 16G (default 16G)
  --max-action-timeout SEC  longest Action.timeout accepted, and the default timeout
  --abandon-grace-ms MS     cancel an action nobody follows after this long (default 10000)
  --log-level LEVEL         trace, debug (one line per call), info (one per action), warn, error
  --log-file FILE           log here instead of stderr
`;

class UsageError extends Error {}

interface ServerFlags {
  readonly listen: string;
  readonly instanceName: string;
  readonly storeDir: string;
  readonly workDir: string | undefined;
  readonly workers: number;
  readonly platform: PlatformProperty[];
  readonly tls: { cert: Buffer; key: Buffer } | undefined;
  readonly tokens: string[] | undefined;
  readonly maxBlobBytes: number;
  readonly maxActionTimeoutMs: number | undefined;
  readonly abandonGraceMs: number;
  readonly logLevel: LogLevel;
  readonly logFile: string | undefined;
  /** `--run-as`: whom actions run as, and the files that user must not be able to read. */
  readonly runAs: RunAs | undefined;
  /** `--isolation`: strict (the default) or none. */
  readonly isolation: 'strict' | 'none';
  readonly tokenFile: string | undefined;
  readonly tlsKeyFile: string | undefined;
  /** Hidden test modes: see RemoteServerOptions. */
  readonly implicitEmptyBlob: boolean;
  readonly maxBatchTotalBytes: number | undefined;
  readonly queueUnmatchedPlatforms: boolean;
}

interface RunAs {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

/**
 * `trews remote-server`: runs until `io.signal` aborts (SIGINT / SIGTERM),
 * then stops cleanly. Returns the exit code: 0 after a clean stop, 2 for a
 * bad flag or file, 1 when the server cannot start (e.g. the port is taken).
 * Needs no build root.
 */
export async function runRemoteServer(argv: readonly string[], io: RemoteServerIo): Promise<number> {
  const say = (stream: Writable, text: string): Promise<void> => new Promise((res) => stream.write(text, () => res()));
  let flags: ServerFlags;
  try {
    const parsed = parseFlags(argv);
    if (parsed === 'help') {
      await say(io.stdout, USAGE);
      return 0;
    }
    flags = await resolveFlags(parsed, io);
  } catch (e) {
    if (e instanceof UsageError) {
      await say(io.stderr, `error: ${e.message}\n  see \`trews remote-server --help\`\n`);
      return 2;
    }
    throw e;
  }

  let sandboxRoot: string | undefined;
  if (flags.runAs !== undefined) {
    try {
      sandboxRoot = await isolate(flags, flags.runAs);
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      await say(io.stderr, `error: ${e.message}\n`);
      return 2;
    }
  } else if (process.getuid?.() === 0) {
    await say(
      io.stderr,
      flags.isolation === 'none'
        ? 'warning: actions run as root, as this server does, with no isolation: they can read its store and token file and write anywhere; ' +
            'start it with --run-as USER (e.g. --run-as nobody) to run them as an unprivileged user\n'
        : 'warning: actions run as root, as this server does: their strict sandboxes hide its store and token file, but root can do more than it should; ' +
            'start it with --run-as USER (e.g. --run-as nobody) to run them as an unprivileged user\n',
    );
  }

  const logger = flags.logFile === undefined ? new StreamLogger(flags.logLevel, (line) => io.stderr.write(line)) : new StreamLogger(flags.logLevel, fileSink(flags.logFile));
  const store = createLocalStore({ dir: flags.storeDir, logger });
  let workDir: string;
  try {
    const parent = flags.workDir ?? join(flags.storeDir, 'remote-server');
    await mkdir(parent, { recursive: true });
    await removeStaleWorkDirs(parent, logger);
    workDir = await mkdtemp(join(parent, 'run-'));
    await writeFile(join(workDir, 'pid'), `${process.pid}\n`);
    // Where this server's sandboxes are when they are not under the work dir, for whoever cleans up after a crash.
    if (sandboxRoot !== undefined) await writeFile(join(workDir, SANDBOX_ROOT_FILE), `${sandboxRoot}\n`);
  } catch (e) {
    await say(io.stderr, `error: cannot create a work directory under ${flags.workDir ?? flags.storeDir}: ${e instanceof Error ? e.message : String(e)}\n`);
    if (sandboxRoot !== undefined) await rm(sandboxRoot, { recursive: true, force: true });
    return 2;
  }

  let server: Awaited<ReturnType<typeof createRemoteServer>>;
  try {
    server = await createRemoteServer({
      listen: flags.listen,
      instanceName: flags.instanceName,
      store,
      workers: flags.workers,
      workDir,
      platform: flags.platform,
      maxBlobBytes: flags.maxBlobBytes,
      abandonGraceMs: flags.abandonGraceMs,
      logger,
      implicitEmptyBlob: flags.implicitEmptyBlob,
      ...(flags.maxBatchTotalBytes !== undefined ? { maxBatchTotalBytes: flags.maxBatchTotalBytes } : {}),
      queueUnmatchedPlatforms: flags.queueUnmatchedPlatforms,
      isolation: flags.isolation,
      // bwrap is found as a shell would find it here (exec/ reads no environment itself).
      ...(io.env['PATH'] !== undefined ? { hostPath: io.env['PATH'] } : {}),
      ...(flags.runAs !== undefined && sandboxRoot !== undefined ? { runAs: { uid: flags.runAs.uid, gid: flags.runAs.gid }, sandboxRoot } : {}),
      ...(flags.tls ? { tls: flags.tls } : {}),
      ...(flags.tokens ? { tokens: flags.tokens } : {}),
      ...(flags.maxActionTimeoutMs !== undefined ? { maxActionTimeoutMs: flags.maxActionTimeoutMs } : {}),
    });
  } catch (e) {
    await rm(workDir, { recursive: true, force: true });
    if (sandboxRoot !== undefined) await rm(sandboxRoot, { recursive: true, force: true });
    if (isFailureError(e)) {
      const hints = (e.failure.hints ?? []).map((h) => `  ${h}\n`).join('');
      await say(io.stderr, `error: ${e.failure.message}\n${hints}`);
      return e.failure.tag === 'input' ? 2 : 1;
    }
    throw e;
  }

  const instance = flags.instanceName === '' ? '""' : flags.instanceName;
  await say(
    io.stdout,
    `trews remote-server: listening on ${server.address}${flags.tls ? ' (TLS)' : ''}, instance ${instance}, ${flags.workers} worker${flags.workers === 1 ? '' : 's'}, store ${flags.storeDir}` +
      `${flags.runAs !== undefined ? `, actions run as ${flags.runAs.name} (uid ${flags.runAs.uid}) in ${sandboxRoot ?? ''}` : ''}` +
      `, platform ${flags.platform.length === 0 ? '(none: actions asking for any property are refused)' : flags.platform.map((p) => `${p.name}=${p.value}`).join(' ')}, isolation ${flags.isolation}\n`,
  );
  if (!io.signal.aborted) await new Promise<void>((res) => io.signal.addEventListener('abort', () => res(), { once: true }));
  logger.info('remote server: stopping (signal received)');
  await server.close();
  await store.close();
  await rm(workDir, { recursive: true, force: true }).catch(() => undefined);
  if (sandboxRoot !== undefined) await rm(sandboxRoot, { recursive: true, force: true }).catch(() => undefined);
  return 0;
}

type Parsed = ReturnType<typeof parseFlagsRaw>['values'];

function parseFlagsRaw(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      listen: { type: 'string' },
      'instance-name': { type: 'string' },
      'store-dir': { type: 'string' },
      'work-dir': { type: 'string' },
      workers: { type: 'string' },
      platform: { type: 'string', multiple: true },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'token-file': { type: 'string' },
      'max-blob-size': { type: 'string' },
      'max-action-timeout': { type: 'string' },
      'abandon-grace-ms': { type: 'string' },
      'log-level': { type: 'string' },
      'log-file': { type: 'string' },
      'run-as': { type: 'string' },
      isolation: { type: 'string' },
      // Hidden: modes that make this server behave like others, for testing clients against them.
      'no-implicit-empty-blob': { type: 'boolean' },
      'max-batch-size': { type: 'string' },
      'queue-unmatched-platforms': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

function parseFlags(argv: readonly string[]): Parsed | 'help' {
  try {
    const { values } = parseFlagsRaw(argv);
    return values.help === true ? 'help' : values;
  } catch (e) {
    // parseArgs' messages name the flag ("Unknown option '--lsten'", "Option '--workers <value>' argument missing").
    const msg = e instanceof Error ? e.message.replace(/\. To specify a positional argument.*$/s, '') : String(e);
    throw new UsageError(msg);
  }
}

async function resolveFlags(v: Parsed, io: RemoteServerIo): Promise<ServerFlags> {
  const path = (p: string): string => resolve(io.cwd, p);
  const listen = v.listen ?? '127.0.0.1:8980';
  checkListen(listen);
  const workers = v.workers === undefined ? availableParallelism() : positiveInt(v.workers, '--workers');
  const platform = (v.platform ?? []).map((kv) => {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new UsageError(`--platform ${JSON.stringify(kv)} must have the form KEY=VALUE`);
    return { name: kv.slice(0, eq), value: kv.slice(eq + 1) };
  });
  if ((v['tls-cert'] === undefined) !== (v['tls-key'] === undefined)) {
    throw new UsageError('--tls-cert and --tls-key must be given together');
  }
  const tls =
    v['tls-cert'] !== undefined && v['tls-key'] !== undefined
      ? { cert: await readFlagFile(path(v['tls-cert']), '--tls-cert'), key: await readFlagFile(path(v['tls-key']), '--tls-key') }
      : undefined;
  if (tls !== undefined) {
    if (!tls.cert.toString('utf8').includes('-----BEGIN CERTIFICATE-----')) throw new UsageError(`--tls-cert ${v['tls-cert']}: not a PEM certificate`);
    if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(tls.key.toString('utf8'))) throw new UsageError(`--tls-key ${v['tls-key']}: not a PEM private key`);
  }
  let tokens: string[] | undefined;
  if (v['token-file'] !== undefined) {
    const text = (await readFlagFile(path(v['token-file']), '--token-file')).toString('utf8');
    tokens = text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    if (tokens.length === 0) throw new UsageError(`--token-file ${v['token-file']}: no token in it (one token per line)`);
  }
  const isolation = v.isolation ?? 'strict';
  if (isolation !== 'strict' && isolation !== 'none') throw new UsageError(`--isolation ${JSON.stringify(isolation)} is not one of strict, none`);
  const logLevel = (v['log-level'] ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new UsageError(`--log-level ${JSON.stringify(v['log-level'])} is not one of ${LOG_LEVELS.join(', ')}`);
  return {
    listen,
    instanceName: v['instance-name'] ?? '',
    storeDir: v['store-dir'] !== undefined ? path(v['store-dir']) : defaultLocalStoreDir(io.env, homedir()),
    workDir: v['work-dir'] !== undefined ? path(v['work-dir']) : undefined,
    workers,
    platform,
    tls,
    tokens,
    maxBlobBytes: v['max-blob-size'] === undefined ? 16 * 1024 ** 3 : parseSize(v['max-blob-size']),
    maxActionTimeoutMs: v['max-action-timeout'] === undefined ? undefined : positiveInt(v['max-action-timeout'], '--max-action-timeout') * 1000,
    abandonGraceMs: v['abandon-grace-ms'] === undefined ? 10_000 : positiveInt(v['abandon-grace-ms'], '--abandon-grace-ms'),
    logLevel,
    logFile: v['log-file'] !== undefined ? path(v['log-file']) : undefined,
    runAs: v['run-as'] === undefined ? undefined : resolveUser(v['run-as']),
    isolation,
    tokenFile: v['token-file'] !== undefined ? path(v['token-file']) : undefined,
    tlsKeyFile: v['tls-key'] !== undefined ? path(v['tls-key']) : undefined,
    implicitEmptyBlob: v['no-implicit-empty-blob'] !== true,
    maxBatchTotalBytes: v['max-batch-size'] === undefined ? undefined : positiveInt(v['max-batch-size'], '--max-batch-size'),
    queueUnmatchedPlatforms: v['queue-unmatched-platforms'] === true,
  };
}

/** `nobody`, `65534`, or `65534:65534` → uid and gid, as the system knows them (through id(1), which asks NSS). */
function resolveUser(spec: string): RunAs {
  const numeric = /^(\d+)(?::(\d+))?$/.exec(spec);
  if (numeric !== null && numeric[2] !== undefined) return check({ name: spec, uid: Number(numeric[1]), gid: Number(numeric[2]) });
  const id = (flag: string): number | undefined => {
    try {
      const out = execFileSync('id', [flag, spec], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
      return /^\d+$/.test(out) ? Number(out) : undefined;
    } catch {
      return undefined;
    }
  };
  const uid = id('-u');
  const gid = id('-g');
  if (uid === undefined || gid === undefined) throw new UsageError(`--run-as ${JSON.stringify(spec)}: no such user on this machine (give a user name such as nobody, or UID:GID)`);
  return check({ name: spec, uid, gid });

  function check(u: RunAs): RunAs {
    if (u.uid === 0) throw new UsageError(`--run-as ${spec} is root: actions would keep every privilege; name an unprivileged user such as nobody`);
    const self = process.getuid?.();
    if (self !== 0) {
      throw new UsageError(`--run-as needs the server to run as root, to switch to ${spec} for each action (it runs as uid ${self ?? '?'}); run it as root, or without --run-as`);
    }
    return u;
  }
}

/** Name of the work-dir file that records where a --run-as server keeps its sandboxes. */
const SANDBOX_ROOT_FILE = 'sandbox-root';
const SANDBOX_ROOT_PREFIX = 'trews-remote-server-sandboxes-';

/**
 * Prepares a --run-as server: its store becomes private (0700: actions must
 * not read other actions' results, nor plant blobs), its sandboxes go to a
 * fresh directory the user can reach (the default work dir is inside the
 * store), and what that user must not read is checked by trying, as that
 * user: the store, the token file and the TLS key. The token itself was read
 * once, before any action ran. Returns the sandbox root.
 */
async function isolate(flags: ServerFlags, user: RunAs): Promise<string> {
  await mkdir(flags.storeDir, { recursive: true, mode: 0o700 });
  await chmod(flags.storeDir, 0o700);
  const readable = (p: string): boolean => runsAs(user, ['test', '-r', p]) || runsAs(user, ['test', '-x', p]);
  if (readable(flags.storeDir)) {
    throw new UsageError(`--store-dir ${flags.storeDir} can be read by ${user.name}, who runs the actions (--run-as); give the store to this server's user (chown it), or pick another --store-dir`);
  }
  for (const [file, flag] of [
    [flags.tokenFile, '--token-file'],
    [flags.tlsKeyFile, '--tls-key'],
  ] as const) {
    if (file !== undefined && runsAs(user, ['test', '-r', file])) {
      throw new UsageError(`${flag} ${file} can be read by ${user.name}, who runs the actions (--run-as); make it readable by this server's user only (chmod 600 ${file}), or move it where ${user.name} cannot reach`);
    }
  }
  const parent = flags.workDir ?? tmpdir();
  await mkdir(parent, { recursive: true });
  const root = await mkdtemp(join(parent, SANDBOX_ROOT_PREFIX));
  await chmod(root, 0o711);
  if (!runsAs(user, ['test', '-x', root])) {
    await rm(root, { recursive: true, force: true });
    throw new UsageError(
      `${user.name} (--run-as) cannot reach ${root}, where its actions would run: a directory above it is closed to it; pick a --work-dir that user can search (e.g. under /tmp)`,
    );
  }
  return root;
}

/** Whether `argv` succeeds when run as `user`: the test of what that user can reach. */
function runsAs(user: RunAs, argv: readonly string[]): boolean {
  // Through /bin/sh, which every machine has, whatever PATH this server got.
  const r = spawnSync('/bin/sh', ['-c', '"$@"', 'sh', ...argv], { uid: user.uid, gid: user.gid, stdio: 'ignore', timeout: 10_000 });
  return r.status === 0;
}

function checkListen(listen: string): void {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+):(\d+)$/.exec(listen);
  if (m === null || Number(m[2]) > 65535) {
    throw new UsageError(`--listen ${JSON.stringify(listen)} must be HOST:PORT, e.g. 127.0.0.1:8980, 0.0.0.0:8980 or [::1]:8980`);
  }
}

function positiveInt(s: string, flag: string): number {
  if (!/^[1-9][0-9]*$/.test(s) || !Number.isSafeInteger(Number(s))) throw new UsageError(`${flag} ${JSON.stringify(s)} must be a positive whole number`);
  return Number(s);
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** `1048576`, `512K`, `64M`, `16G`, `1T` (binary units; an optional `iB`/`B` is accepted). */
function parseSize(s: string): number {
  const m = /^(\d+)\s*([kmgt]?)(i?b)?$/i.exec(s.trim());
  const n = m === null ? NaN : Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]!;
  if (!Number.isSafeInteger(n) || n <= 0) throw new UsageError(`--max-blob-size ${JSON.stringify(s)} must be a size such as 1048576, 512M or 16G`);
  return n;
}

async function readFlagFile(p: string, flag: string): Promise<Buffer> {
  try {
    return await readFile(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`${flag} ${p}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message}`);
  }
}

/**
 * Work dirs of servers that died without cleaning up (killed, crashed) hold
 * sandboxes and partial uploads nobody will use again. Each live server's
 * dir names its pid; a dir whose pid is gone is removed. Servers sharing a
 * store therefore never remove each other's.
 */
async function removeStaleWorkDirs(parent: string, logger: Logger): Promise<void> {
  for (const entry of await readdir(parent, { withFileTypes: true })) {
    if (!entry.isDirectory() || !entry.name.startsWith('run-')) continue;
    const dir = join(parent, entry.name);
    const text = await readFile(join(dir, 'pid'), 'utf8').catch(() => undefined);
    if (text === undefined) {
      // Another server may have just created it and not yet written its pid.
      const st = await stat(dir).catch(() => undefined);
      if (st === undefined || Date.now() - st.mtimeMs < 60_000) continue;
    }
    const pid = Number((text ?? '').trim());
    if (pidExists(pid)) continue;
    logger.info(`remote server: removing ${dir}, left by a server that is gone`);
    const sandboxes = (await readFile(join(dir, SANDBOX_ROOT_FILE), 'utf8').catch(() => '')).trim();
    if (sandboxes !== '' && basename(sandboxes).startsWith(SANDBOX_ROOT_PREFIX)) {
      await rm(sandboxes, { recursive: true, force: true }).catch((e: unknown) => logger.warn(`remote server: cannot remove ${sandboxes}: ${String(e)}`));
    }
    await rm(dir, { recursive: true, force: true }).catch((e: unknown) => logger.warn(`remote server: cannot remove ${dir}: ${String(e)}`));
  }
}

function fileSink(path: string): (line: string) => void {
  let broken = false;
  return (line) => {
    if (broken) return;
    try {
      appendFileSync(path, line);
    } catch {
      broken = true; // a full disk must not stop the server
    }
  };
}

/** Timestamped lines to a sink (stderr or a file), filtered by level. */
class StreamLogger implements Logger {
  readonly level: LogLevel;
  readonly #rank: number;
  readonly #sink: (line: string) => void;
  constructor(level: LogLevel, sink: (line: string) => void) {
    this.level = level;
    this.#rank = LOG_LEVELS.indexOf(level);
    this.#sink = sink;
  }
  enabled(level: LogLevel): boolean {
    return LOG_LEVELS.indexOf(level) >= this.#rank;
  }
  #log(level: LogLevel, msg: string): void {
    if (this.enabled(level)) this.#sink(`${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${msg}\n`);
  }
  trace(msg: string): void {
    this.#log('trace', msg);
  }
  debug(msg: string): void {
    this.#log('debug', msg);
  }
  info(msg: string): void {
    this.#log('info', msg);
  }
  warn(msg: string): void {
    this.#log('warn', msg);
  }
  error(msg: string): void {
    this.#log('error', msg);
  }
}
