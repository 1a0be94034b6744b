// Shared by the remote-server tests: start a real `trews remote-server`
// process on 127.0.0.1 with a random port, and talk to it with plain
// @grpc/grpc-js clients built from the REAPI descriptors.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, fromBinary, toBinary, type DescMessage, type DescService, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf';
import { anyUnpack } from '@bufbuild/protobuf/wkt';
import * as grpc from '@grpc/grpc-js';
import { digestOf, type Digest, type Sha256Hex } from '../../src/core/index.js';
import {
  ActionSchema,
  BatchUpdateBlobsRequestSchema,
  CommandSchema,
  DirectorySchema,
  ExecuteOperationMetadataSchema,
  ExecuteResponseSchema,
  PreconditionFailureSchema,
  StatusSchema,
  digestMessage,
  grpcServiceDefinition,
  toProtoDigest,
  type ExecuteResponse,
  type ExecutionStage_Value,
  type Operation,
  type PreconditionFailure,
  type ProtoDigest,
} from '../../src/reapi/index.js';
import { collectOutput } from './cli.js';
import { repoRoot } from './index.js';

export interface ServerProcess {
  readonly address: string;
  readonly port: number;
  readonly pid: number;
  readonly dir: string;
  readonly storeDir: string;
  readonly child: ChildProcess;
  /** Everything the server wrote to stderr (its log) so far. */
  stderr(): string;
  stdout(): string;
  /** SIGTERM, then waits for the exit; returns the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `trews remote-server` with a fresh store in a temp dir; `args` are added to the command line. */
export async function startServer(args: readonly string[] = [], opts: { dir?: string; defaultIsolation?: boolean } = {}): Promise<ServerProcess> {
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'trews-rs-test-')));
  const storeDir = join(dir, 'store');
  const hasStore = args.includes('--store-dir');
  // Most tests watch their actions from outside (pid files, planted files), which strict isolation (the server's
  // default) hides: they get `--isolation none`; the strict tests say `--isolation strict` or ask for the default.
  const isolation = args.includes('--isolation') || opts.defaultIsolation === true ? [] : ['--isolation', 'none'];
  const argv = [join(repoRoot(), 'bin', 'trews.cjs'), 'remote-server', '--listen', '127.0.0.1:0', ...(hasStore ? [] : ['--store-dir', storeDir]), ...isolation, ...args];
  const { child, address, exited, stdout, stderr } = await spawnListening(argv, { cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir } });
  return {
    address,
    port: Number(address.split(':')[1]),
    pid: child.pid!,
    dir,
    storeDir,
    child,
    stderr,
    stdout,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const code = await exited;
      if (opts.dir === undefined) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      return code;
    },
  };
}

export interface Listening {
  readonly child: ChildProcess;
  /** The `127.0.0.1:PORT` the server printed. */
  readonly address: string;
  /** Settles with the exit code when the process ends. */
  readonly exited: Promise<number | null>;
  stdout(): string;
  stderr(): string;
}

/**
 * Spawns a `trews remote-server` command line with node and waits until it
 * prints the address it listens on; rejects with its output when it exits
 * first or says nothing in 20 s.
 */
export async function spawnListening(argv: readonly string[], opts: { cwd?: string; env: NodeJS.ProcessEnv }): Promise<Listening> {
  const child = spawn(process.execPath, argv, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`remote-server did not start in 20 s\nstdout: ${out}\nstderr: ${err}`));
    }, 20_000);
    const check = (): void => {
      const m = /listening on (127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`remote-server exited with ${code} before listening\nstdout: ${out}\nstderr: ${err}`));
    });
  });
  return { child, address, exited, stdout: () => out, stderr: () => err };
}

/** Runs `trews remote-server` to completion (for flag errors); returns its exit code and output. */
export function runServerCli(args: readonly string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(repoRoot(), 'bin', 'trews.cjs'), 'remote-server', ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: cwd },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return collectOutput(child, `remote-server ${args.join(' ')}`, 20_000).result;
}

type AnyFn = (...args: unknown[]) => unknown;
export type RpcClient = grpc.Client & Record<string, AnyFn>;

export function connect(service: DescService, address: string, credentials = grpc.credentials.createInsecure(), options: grpc.ChannelOptions = {}): RpcClient {
  // Requests may be written as plain objects in tests: each is made a message before encoding.
  const def = grpcServiceDefinition(service) as Record<string, grpc.MethodDefinition<unknown, unknown>>;
  for (const m of service.methods) {
    const d = def[m.localName]!;
    def[m.localName] = { ...d, requestSerialize: (x: unknown) => Buffer.from(toBinary(m.input, create(m.input, x as never))) };
  }
  const Ctor = grpc.makeGenericClientConstructor(def as grpc.ServiceDefinition, service.name);
  return new Ctor(address, credentials, { 'grpc.max_receive_message_length': 16 * 1024 * 1024, ...options }) as unknown as RpcClient;
}

export function unary<Res>(client: RpcClient, method: string, request: unknown, metadata = new grpc.Metadata()): Promise<Res> {
  return new Promise((resolve, reject) => {
    client[method]!.call(client, request, metadata, (e: grpc.ServiceError | null, r: Res) => (e ? reject(e) : resolve(r)));
  });
}

/** A server-streaming call with every message collected; rejects with the final error (messages so far on `.messages`). */
export function serverStream<Res>(client: RpcClient, method: string, request: unknown, metadata = new grpc.Metadata()): Promise<Res[]> {
  return new Promise((resolve, reject) => {
    const call = client[method]!.call(client, request, metadata) as grpc.ClientReadableStream<Res>;
    const messages: Res[] = [];
    call.on('data', (m: Res) => messages.push(m));
    call.on('error', (e: grpc.ServiceError) => reject(Object.assign(e, { messages })));
    call.on('end', () => resolve(messages));
  });
}

/** A client-streaming call fed from `requests` (an iterable, consumed lazily with backpressure). */
export function clientStream<Res>(client: RpcClient, method: string, requests: Iterable<unknown> | AsyncIterable<unknown>, metadata = new grpc.Metadata()): Promise<Res> {
  return new Promise((resolve, reject) => {
    const call = client[method]!.call(client, metadata, (e: grpc.ServiceError | null, r: Res) => (e ? reject(e) : resolve(r))) as grpc.ClientWritableStream<unknown>;
    void (async () => {
      try {
        for await (const r of requests as AsyncIterable<unknown>) {
          if (!call.write(r)) await new Promise<void>((res) => call.once('drain', () => res()));
        }
        call.end();
      } catch (e) {
        call.cancel();
        reject(e);
      }
    })();
  });
}

/** Asserts a call failed with `code` and a message matching `pattern`. */
export async function rejectsWith(p: Promise<unknown>, code: grpc.status, pattern: RegExp): Promise<grpc.ServiceError> {
  try {
    await p;
  } catch (e) {
    const err = e as grpc.ServiceError;
    assert.equal(grpc.status[err.code], grpc.status[code], `expected ${grpc.status[code]}, got ${grpc.status[err.code]}: ${err.details}`);
    assert.match(err.details, pattern);
    return err;
  }
  assert.fail(`expected ${grpc.status[code]} matching ${pattern}, but the call succeeded`);
}

/** The PreconditionFailure in an error's `grpc-status-details-bin` trailer. */
export function preconditionFailure(err: grpc.ServiceError): PreconditionFailure {
  const raw = err.metadata.get('grpc-status-details-bin')[0];
  assert.ok(raw instanceof Buffer, 'grpc-status-details-bin is present');
  const status = fromBinary(StatusSchema, raw);
  assert.equal(status.code, err.code);
  const pf = status.details.map((d) => anyUnpack(d, PreconditionFailureSchema)).find((x) => x !== undefined);
  assert.ok(pf, 'the status carries a PreconditionFailure');
  return pf;
}

export function pd(d: Digest): ProtoDigest {
  return toProtoDigest(d);
}

export function sha256(data: Uint8Array | string): Sha256Hex {
  return createHash('sha256').update(data).digest('hex') as Sha256Hex;
}

export function blob(text: string | Uint8Array): { digest: Digest; data: Uint8Array } {
  const data = typeof text === 'string' ? Buffer.from(text) : text;
  return { digest: digestOf(data), data };
}

export function message<Desc extends DescMessage>(schema: Desc, init: MessageInitShape<Desc>): { digest: Digest; data: Uint8Array; message: MessageShape<Desc> } {
  const m = create(schema, init);
  const { digest, bytes } = digestMessage(schema, m);
  return { digest, data: bytes, message: m };
}

/** Uploads blobs with BatchUpdateBlobs and checks every one was accepted. */
export async function upload(cas: RpcClient, blobs: ReadonlyArray<{ digest: Digest; data: Uint8Array }>, instanceName = '', metadata?: grpc.Metadata): Promise<void> {
  const res = await unary<{ responses: Array<{ status?: { code: number; message: string } }> }>(
    cas,
    'batchUpdateBlobs',
    create(BatchUpdateBlobsRequestSchema, { instanceName, requests: blobs.map((b) => ({ digest: pd(b.digest), data: b.data })) }),
    metadata,
  );
  for (const r of res.responses) assert.equal(r.status?.code ?? 0, 0, r.status?.message);
}

export interface ActionSpec {
  readonly argv: readonly string[];
  readonly env?: Record<string, string>;
  readonly files?: Record<string, string>;
  readonly outputFiles?: readonly string[];
  readonly outputDirectories?: readonly string[];
  readonly outputPaths?: readonly string[];
  readonly workingDirectory?: string;
  readonly timeoutSeconds?: number;
  readonly doNotCache?: boolean;
  readonly platform?: ReadonlyArray<{ name: string; value: string }>;
  readonly salt?: string;
}

/** Builds an Action (with its Command and input tree) and every blob it needs, in canonical form. */
export function buildAction(spec: ActionSpec): { actionDigest: Digest; blobs: Array<{ digest: Digest; data: Uint8Array }>; inputRoot: Digest; commandDigest: Digest } {
  const blobs: Array<{ digest: Digest; data: Uint8Array }> = [];
  const inputRoot = buildTree(spec.files ?? {}, blobs);
  const platform = spec.platform && spec.platform.length > 0 ? { properties: [...spec.platform].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.value < b.value ? -1 : 1)) } : undefined;
  const command = message(CommandSchema, {
    arguments: [...spec.argv],
    environmentVariables: Object.entries(spec.env ?? { PATH: '/usr/bin:/bin' })
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([name, value]) => ({ name, value })),
    outputFiles: [...(spec.outputFiles ?? [])].sort(),
    outputDirectories: [...(spec.outputDirectories ?? [])].sort(),
    outputPaths: [...(spec.outputPaths ?? [])].sort(),
    workingDirectory: spec.workingDirectory ?? '',
    platform,
  });
  blobs.push(command);
  const action = message(ActionSchema, {
    commandDigest: pd(command.digest),
    inputRootDigest: pd(inputRoot),
    timeout: spec.timeoutSeconds === undefined ? undefined : { seconds: BigInt(Math.floor(spec.timeoutSeconds)), nanos: Math.round((spec.timeoutSeconds % 1) * 1e9) },
    doNotCache: spec.doNotCache ?? false,
    salt: spec.salt === undefined ? new Uint8Array(0) : Buffer.from(spec.salt),
    platform,
  });
  blobs.push(action);
  return { actionDigest: action.digest, blobs, inputRoot, commandDigest: command.digest };
}

/**
 * A canonical Directory tree from `path → content` (a trailing `*` in the
 * path marks an executable; content `->target` makes a symlink).
 */
export function buildTree(files: Record<string, string>, blobs: Array<{ digest: Digest; data: Uint8Array }>): Digest {
  interface Node {
    files: Map<string, { digest: Digest; exec: boolean }>;
    dirs: Map<string, Node>;
    links: Map<string, string>;
  }
  const root: Node = { files: new Map(), dirs: new Map(), links: new Map() };
  for (const [rawPath, content] of Object.entries(files)) {
    const exec = rawPath.endsWith('*');
    const path = exec ? rawPath.slice(0, -1) : rawPath;
    const segs = path.split('/');
    let n = root;
    for (const s of segs.slice(0, -1)) {
      let next = n.dirs.get(s);
      if (!next) n.dirs.set(s, (next = { files: new Map(), dirs: new Map(), links: new Map() }));
      n = next;
    }
    const name = segs[segs.length - 1]!;
    if (content.startsWith('->')) n.links.set(name, content.slice(2));
    else {
      const b = blob(content);
      blobs.push(b);
      n.files.set(name, { digest: b.digest, exec });
    }
  }
  const encode = (n: Node): Digest => {
    const byName = <T>(m: Map<string, T>): Array<[string, T]> => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const dir = message(DirectorySchema, {
      files: byName(n.files).map(([name, f]) => ({ name, digest: pd(f.digest), isExecutable: f.exec })),
      directories: byName(n.dirs).map(([name, d]) => ({ name, digest: pd(encode(d)) })),
      symlinks: byName(n.links).map(([name, target]) => ({ name, target })),
    });
    blobs.push(dir);
    return dir.digest;
  };
  return encode(root);
}

export interface ExecuteOutcome {
  readonly operations: Operation[];
  readonly stages: ExecutionStage_Value[];
  readonly response: ExecuteResponse;
  readonly name: string;
}

/** Reads an Operation stream's stages and final ExecuteResponse. */
export function outcomeOf(operations: Operation[]): ExecuteOutcome {
  assert.ok(operations.length > 0, 'the stream carried at least one Operation');
  const stages = operations.map((op) => anyUnpack(op.metadata!, ExecuteOperationMetadataSchema)!.stage);
  const last = operations[operations.length - 1]!;
  assert.equal(last.done, true, 'the last Operation is done');
  assert.equal(last.result.case, 'response', 'a done Operation carries a response, never an error');
  const response = anyUnpack(last.result.value as never, ExecuteResponseSchema);
  assert.ok(response, 'the response is an ExecuteResponse');
  for (const op of operations.slice(0, -1)) assert.equal(op.done, false);
  return { operations, stages, response, name: last.name };
}

/** A file's content from the server's CAS via BatchReadBlobs. */
export async function readBlob(cas: RpcClient, d: ProtoDigest | undefined): Promise<Buffer> {
  assert.ok(d, 'digest present');
  const res = await unary<{ responses: Array<{ data: Uint8Array; status?: { code: number; message: string } }> }>(cas, 'batchReadBlobs', { instanceName: '', digests: [d] });
  const r = res.responses[0]!;
  assert.equal(r.status?.code ?? 0, 0, r.status?.message);
  return Buffer.from(r.data);
}

export function decode<Desc extends DescMessage>(schema: Desc, bytes: Uint8Array): MessageShape<Desc> {
  return fromBinary(schema, bytes);
}

export function encode<Desc extends DescMessage>(schema: Desc, m: MessageShape<Desc>): Uint8Array {
  return toBinary(schema, m);
}

/** Polls until `check` is true (or fails after `ms`). */
export async function eventually(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`timed out after ${ms} ms waiting for ${what}`);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function readPid(path: string): Promise<number | undefined> {
  try {
    const n = Number((await readFile(path, 'utf8')).trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}
