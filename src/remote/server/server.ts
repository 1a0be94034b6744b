import { Server, ServerCredentials } from '@grpc/grpc-js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FailureError, failure, nullLogger, type Logger } from '../../core/index.js';
import { createLocalRunner, type CommandRunner, type Isolation, type PlatformProperty } from '../../exec/index.js';
import type { LocalStore } from '../../store/index.js';
import {
  ActionCacheService,
  ByteStreamService,
  CapabilitiesService,
  ContentAddressableStorageService,
  ExecutionService,
  OperationsService,
  grpcServiceDefinition,
} from '../../reapi/index.js';
import { actionCacheService } from './action-cache.js';
import { createBearerAuthenticator } from './auth.js';
import { byteStreamService } from './byte-stream.js';
import { MAX_BATCH_TOTAL_BYTES, capabilitiesService } from './capabilities.js';
import { createCasView } from './cas-view.js';
import { casService } from './cas.js';
import { RecentBlobs } from './recent-blobs.js';
import { SharedStoreLease } from './shared-lease.js';
import { executionService } from './execution.js';
import { OperationRegistry } from './operation-registry.js';
import { operationsService } from './operations.js';
import { Shutdown, type RpcEnv } from './rpc.js';
import { Uploads } from './uploads.js';
import type { ServerLimits } from './validate.js';
import { WorkerPool } from './worker-pool.js';

export interface RemoteServerOptions {
  /** `host:port` to bind; port 0 picks a free one (see RemoteServer.port). */
  readonly listen: string;
  /** The one REAPI instance name served; requests naming another get NOT_FOUND. '' is the usual default. */
  readonly instanceName: string;
  /** The CAS and action cache (shared safely with other trews processes on this machine). */
  readonly store: LocalStore;
  /** Actions run at once; more wait in the queue (stage QUEUED). */
  readonly workers: number;
  /**
   * Scratch space: partial uploads and sandboxes. Best on the store's file
   * system, so inputs are hard links rather than copies. Default: a fresh
   * directory under the OS temp dir. Removed on close.
   */
  readonly workDir?: string;
  /** Where sandboxes are made (default: `<workDir>/sandboxes`). */
  readonly sandboxRoot?: string;
  /** PEM certificate chain and key: serve TLS instead of plaintext. */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
  /** Accepted bearer tokens; when given, every call needs `authorization: Bearer <one of them>`. */
  readonly tokens?: readonly string[];
  /** This machine's platform properties; an action's must all be among them. */
  readonly platform: readonly PlatformProperty[];
  /** Largest blob accepted into the CAS. */
  readonly maxBlobBytes: number;
  /**
   * `max_batch_total_size_bytes` (default MAX_BATCH_TOTAL_BYTES); less is a
   * mode for testing clients against servers with small batches (hidden
   * flag `--max-batch-size`, e.g. NativeLink's 64 KiB).
   */
  readonly maxBatchTotalBytes?: number;
  /** Longest Action.timeout accepted, and the timeout of actions without one; undefined: none. */
  readonly maxActionTimeoutMs?: number;
  /** How long an unfinished operation nobody follows lives before it is cancelled (default 10 s). */
  readonly abandonGraceMs?: number;
  /** Serve Execution (default true); false makes this a cache-only server. */
  readonly execEnabled?: boolean;
  /** One line per RPC at debug level, one per executed action at info level. */
  readonly logger?: Logger;
  /**
   * Whether the empty blob is always present (default true, as in the local
   * store). False: only once uploaded, as BuildGrid does; a mode for testing
   * clients against such servers (hidden flag `--no-implicit-empty-blob`).
   */
  readonly implicitEmptyBlob?: boolean;
  /**
   * Actions whose platform no worker offers stay QUEUED, as on schedulers
   * that wait for a matching worker to join (BuildGrid, Buildbarn), instead
   * of failing Execute with FAILED_PRECONDITION. A mode for testing clients
   * (hidden flag `--queue-unmatched-platforms`); such actions never run.
   */
  readonly queueUnmatchedPlatforms?: boolean;
  /**
   * Run actions as this user (`--run-as`): the server must be root. Its
   * sandboxes must then be where that user can reach them (`sandboxRoot`).
   */
  readonly runAs?: { readonly uid: number; readonly gid: number };
  /**
   * `strict`: every action runs strictly isolated (`trews remote-server`'s
   * default); `none` (the default here): only actions whose salt asks for it
   * (prepare-action.ts).
   */
  readonly isolation?: Isolation;
  /** Where the sandbox runner looks for bwrap and strace: the server's PATH (its command line's environment). */
  readonly hostPath?: string;
  /** The sandbox runner; default: the local sandbox runner over `store`. */
  readonly runner?: CommandRunner;
}

export interface RemoteServer {
  /** `host:port` as bound (with the real port when 0 was asked for). */
  readonly address: string;
  readonly port: number;
  /** Stops accepting calls, cancels running actions (their processes are killed), waits for them, frees the work dir. */
  close(): Promise<void>;
}

const DEFAULT_ABANDON_GRACE_MS = 10_000;
/** Calls in flight get this long to finish on close before they are cut. */
const SHUTDOWN_GRACE_MS = 5_000;
/** Longest close() waits for cancelled actions to finish. */
const DRAIN_WORKERS_MS = 15_000;
/**
 * Largest message accepted. Batches are bounded by max_batch_total_size_bytes
 * (3.5 MiB of blobs); the rest is per-blob overhead, which for many tiny
 * blobs can push a legitimate batch past gRPC's 4 MiB default.
 */
const MAX_RECEIVE_BYTES = 16 * 1024 * 1024;

/**
 * A REAPI v2 server (Capabilities, ContentAddressableStorage, ByteStream,
 * ActionCache, Execution, Operations) over a local store and the local
 * sandbox runner: what `trews remote-server` runs, and what any conformant
 * client (Bazel, Pants, trews, bb_clientd) can use for caching and remote
 * execution.
 */
export async function createRemoteServer(options: RemoteServerOptions): Promise<RemoteServer> {
  const logger = options.logger ?? nullLogger;
  if (!Number.isSafeInteger(options.workers) || options.workers < 1) {
    throw new FailureError(failure('input', 'invalid-workers', `workers must be a positive whole number, not ${options.workers}`));
  }
  const ownsWorkDir = options.workDir === undefined;
  const workDir = options.workDir ?? (await mkdtemp(join(tmpdir(), 'trews-remote-server-')));
  const sandboxRoot = options.sandboxRoot ?? join(workDir, 'sandboxes');
  const limits: ServerLimits = {
    instanceName: options.instanceName,
    maxBlobBytes: options.maxBlobBytes,
    maxBatchTotalBytes: Math.min(options.maxBatchTotalBytes ?? MAX_BATCH_TOTAL_BYTES, MAX_BATCH_TOTAL_BYTES),
  };
  const shutdown = new Shutdown();
  const env: RpcEnv = {
    logger,
    auth: options.tokens === undefined ? undefined : createBearerAuthenticator(options.tokens),
    shutdown,
  };
  const { store } = options;
  const view = createCasView(store, { implicitEmptyBlob: options.implicitEmptyBlob ?? true });
  const recent = new RecentBlobs();
  const uploads = new Uploads(join(workDir, 'uploads'), logger);
  const operations: OperationRegistry = new OperationRegistry({
    abandonGraceMs: options.abandonGraceMs ?? DEFAULT_ABANDON_GRACE_MS,
    onAbandoned: (op) => {
      logger.info(`${op.name}: nobody follows it any more; cancelling`);
      operations.cancel(op, 'abandoned');
    },
  });
  const runner = options.runner ?? createLocalRunner({ store, sandboxRoot, logger, isolation: options.isolation ?? 'none', ...(options.hostPath !== undefined ? { hostPath: options.hostPath } : {}), ...(options.runAs !== undefined ? { runAs: options.runAs } : {}) });
  const pool = new WorkerPool(options.workers);
  const leases = new SharedStoreLease({
    dir: store.dir,
    onError: (e) => logger.warn(`cannot register the actions it runs with the store: ${e instanceof Error ? e.message : String(e)}`),
  });
  const execEnabled = options.execEnabled ?? true;

  const server = new Server({ 'grpc.max_receive_message_length': MAX_RECEIVE_BYTES });
  server.addService(grpcServiceDefinition(CapabilitiesService), capabilitiesService(env, { limits, execEnabled }));
  server.addService(grpcServiceDefinition(ContentAddressableStorageService), casService(env, { store: view, limits, logger, recent }));
  server.addService(grpcServiceDefinition(ByteStreamService), byteStreamService(env, { store: view, limits, uploads, logger }));
  server.addService(grpcServiceDefinition(ActionCacheService), actionCacheService(env, { store: view, limits }));
  if (execEnabled) {
    server.addService(
      grpcServiceDefinition(ExecutionService),
      executionService(env, {
        store,
        view,
        recent,
        limits,
        runner,
        pool,
        leases,
        operations,
        platform: options.platform,
        queueUnmatchedPlatforms: options.queueUnmatchedPlatforms ?? false,
        maxTimeoutMs: options.maxActionTimeoutMs,
        logger,
      }),
    );
    server.addService(grpcServiceDefinition(OperationsService), operationsService(env, operations));
  }

  const credentials =
    options.tls === undefined
      ? ServerCredentials.createInsecure()
      : ServerCredentials.createSsl(null, [{ cert_chain: options.tls.cert, private_key: options.tls.key }], false);
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(options.listen, credentials, (e, p) => (e ? reject(e) : resolve(p))),
    );
  } catch (e) {
    await uploads.close();
    if (ownsWorkDir) await rm(workDir, { recursive: true, force: true });
    throw new FailureError(
      failure('environment', 'listen-failed', `cannot listen on ${options.listen}: ${e instanceof Error ? e.message : String(e)}`, {
        hints: ['is another server using that port? pick another with --listen HOST:PORT (port 0 picks a free one)'],
      }),
    );
  }
  const host = options.listen.slice(0, options.listen.lastIndexOf(':'));
  const address = `${host}:${port}`;
  logger.info(
    `remote server listening on ${address}${options.tls ? ' (TLS)' : ''}, instance ${JSON.stringify(options.instanceName)}, ${options.workers} workers, ` +
      `platform [${options.platform.map((p) => `${p.name}=${p.value}`).join(', ')}], store ${store.dir}, work dir ${workDir}`,
  );

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      // Running actions end with UNAVAILABLE (clients retry elsewhere or later) and their processes are killed.
      for (const op of operations.live()) operations.cancel(op, 'shutdown');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          shutdown.trigger();
          server.forceShutdown();
          resolve();
        }, SHUTDOWN_GRACE_MS);
        timer.unref();
        // Followers see their operation complete (cancelled), then the calls drain.
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      shutdown.trigger();
      // Cancelled actions end once their process group is gone (the runner waits for that, bounded).
      const until = Date.now() + DRAIN_WORKERS_MS;
      while (pool.running > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      if (pool.running > 0) logger.warn(`remote server: ${pool.running} action(s) still stopping after ${DRAIN_WORKERS_MS} ms; leaving them`);
      await leases.close();
      await uploads.close();
      if (ownsWorkDir) await rm(workDir, { recursive: true, force: true }).catch(() => undefined);
      logger.info(`remote server on ${address} stopped`);
    })();
    return closing;
  };

  return { address, port, close };
}
