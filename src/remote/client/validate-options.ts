import { readFileSync } from 'node:fs';
import { err, failure, ok, type Failure, type Result } from '../../core/index.js';
import type { PlatformProperty } from '../../exec/index.js';
import { GLOBAL, describeSource, type Options, type OptionSource } from '../../options/index.js';
import { parseRemoteAddress, protocolOf } from './address.js';
import type { CacheContentBehavior, EndpointConfig, RemoteCacheWarnings, RemoteConfig, TlsConfig } from './remote-config.js';

/** How validation reads the files options name; tests pass their own. Throws like fs.readFileSync. */
export interface OptionFiles {
  readFile(path: string): Buffer;
}

export const nodeOptionFiles: OptionFiles = { readFile: (p) => readFileSync(p) };

/**
 * Checks every remote option together and reads the files they name, so a
 * misconfiguration is one clear error before any work starts rather than a
 * failed RPC halfway through a build. Returns null when nothing remote is
 * on (then the other remote options are not looked at: a stale address in
 * trews.toml must not break local builds).
 */
export function validateRemoteOptions(options: Options, files: OptionFiles = nodeOptionFiles): Result<RemoteConfig | null> {
  const execution = options.bool(GLOBAL, 'remote_execution');
  const cacheRead = options.bool(GLOBAL, 'remote_cache_read');
  const cacheWrite = options.bool(GLOBAL, 'remote_cache_write');
  const execText = options.maybeString(GLOBAL, 'remote_execution_server');
  // Remote environments run their processes on remote_execution_server even
  // with remote_execution off; without any named environment, a server
  // address left in trews.toml is not looked at, as before.
  const forEnvironments = !execution && execText !== null && environmentsNamed(options);
  if (!execution && !cacheRead && !cacheWrite && !forEnvironments) return ok(null);

  const problem = (option: string, message: string, hints: readonly string[]): Failure => optionFailure(options, option, message, hints);

  // Environments alone may use the execution server's own CAS, as most servers have one.
  const storeText = options.maybeString(GLOBAL, 'remote_store_server') ?? (!execution && !cacheRead && !cacheWrite ? execText : null);
  const enabled = [execution && 'remote_execution', cacheRead && 'remote_cache_read', cacheWrite && 'remote_cache_write'].filter(Boolean).join(', ');
  if (storeText === null) {
    return err(
      problem(execution ? 'remote_execution' : cacheRead ? 'remote_cache_read' : 'remote_cache_write', `${enabled} ${enabled.includes(',') ? 'are' : 'is'} on but remote_store_server is not set`, [
        execution
          ? 'remote execution needs a CAS to upload inputs to and fetch outputs from: set remote_store_server (usually the same address as remote_execution_server)'
          : 'set remote_store_server to the address of your cache: a REAPI server (grpc://cache.example.com:8980) or an HTTP cache (http://cache.example.com:8080)',
      ]),
    );
  }
  if (execution && execText === null) {
    return err(problem('remote_execution', 'remote_execution is on but remote_execution_server is not set', ['set remote_execution_server to the address of your REAPI execution service (often the same as remote_store_server)']));
  }

  // TLS material and the token are shared by both servers, as in Pants.
  const caPath = options.maybePath(GLOBAL, 'remote_ca_certs_path');
  const certPath = options.maybePath(GLOBAL, 'remote_client_certs_path');
  const keyPath = options.maybePath(GLOBAL, 'remote_client_key_path');
  const tokenPath = options.maybePath(GLOBAL, 'remote_oauth_bearer_token_path');

  if ((certPath === null) !== (keyPath === null)) {
    const [set, unset] = certPath !== null ? ['remote_client_certs_path', 'remote_client_key_path'] : ['remote_client_key_path', 'remote_client_certs_path'];
    return err(problem(set, `${set} is set but ${unset} is not`, ['mutual TLS needs both the client certificate chain and its private key: set both options, or neither']));
  }

  const read = (option: string, path: string, what: string): Result<Buffer> => {
    try {
      return ok(files.readFile(path));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'does not exist' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'is not readable (permission denied)' : `cannot be read: ${(e as Error).message}`;
      return err(problem(option, `${option}: ${what} ${path} ${why}`, [`fix the path in ${option} (relative paths are relative to the build root)`]));
    }
  };
  const pem = (option: string, path: string, what: string, marker: RegExp): Result<Buffer> => {
    const r = read(option, path, what);
    if (!r.ok) return r;
    if (!marker.test(r.value.toString('latin1'))) {
      return err(problem(option, `${option}: ${path} is not a PEM ${what}`, [`expected a file with a -----BEGIN ${what === 'private key' ? '… PRIVATE KEY' : 'CERTIFICATE'}----- block`]));
    }
    return r;
  };

  let rootCerts: Buffer | null = null;
  if (caPath !== null) {
    const r = pem('remote_ca_certs_path', caPath, 'certificate', /-----BEGIN CERTIFICATE-----/);
    if (!r.ok) return r;
    rootCerts = r.value;
  }
  let clientCertChain: Buffer | null = null;
  let clientKey: Buffer | null = null;
  if (certPath !== null && keyPath !== null) {
    const c = pem('remote_client_certs_path', certPath, 'certificate', /-----BEGIN CERTIFICATE-----/);
    if (!c.ok) return c;
    const k = pem('remote_client_key_path', keyPath, 'private key', /-----BEGIN [A-Z ]*PRIVATE KEY-----/);
    if (!k.ok) return k;
    clientCertChain = c.value;
    clientKey = k.value;
  }

  let token: string | null = null;
  if (tokenPath !== null) {
    const r = read('remote_oauth_bearer_token_path', tokenPath, 'token file');
    if (!r.ok) return r;
    const t = parseTokenFile(r.value.toString('utf8'));
    if (!t.ok) return err(problem('remote_oauth_bearer_token_path', `remote_oauth_bearer_token_path: ${tokenPath} ${t.failure}`, ['the file must hold exactly one line: the bearer token']));
    token = t.value;
  }

  const endpoint = (role: EndpointConfig['role'], option: string, text: string, headersOption: string): Result<EndpointConfig> => {
    const a = parseRemoteAddress(text);
    if (!a.ok) {
      return err(problem(option, `${option} \`${text}\` ${a.failure}`, ['for example grpc://127.0.0.1:8980, grpcs://remote.example.com:443, cache.internal:9092, or an HTTP cache: http://127.0.0.1:9090']));
    }
    const address = a.value;
    const http = protocolOf(address) === 'http';
    if (http && (execution || (forEnvironments && role === 'execution'))) {
      // An HTTP cache stores blobs and results; it has no way to run anything.
      return role === 'execution'
        ? err(problem(option, `${option} \`${text}\` is an HTTP cache, which cannot execute processes`, ['remote execution needs a REAPI server: use a grpc:// or grpcs:// address']))
        : err(
            problem('remote_execution', `remote_execution is on but remote_store_server \`${text}\` is an HTTP cache, which only caches`, [
              'remote execution needs a REAPI server (grpc:// or grpcs://) for its CAS; to use the HTTP cache, turn remote_execution off and remote_cache_read / remote_cache_write on',
            ]),
          );
    }
    if (http && forEnvironments && role === 'store') {
      // The execution server reads inputs from and writes outputs to the CAS we upload to: an HTTP cache is neither.
      return err(
        problem(option, `${option} \`${text}\` is an HTTP cache, but remote environments (\`[environments] names\`) run processes on remote_execution_server, which needs its CAS`, [
          'point remote_store_server at the REAPI server (usually the same address as remote_execution_server), or unset it to use that server\'s CAS',
        ]),
      );
    }
    if ((address.scheme === 'grpc' || address.scheme === 'http') && (rootCerts !== null || clientCertChain !== null)) {
      const tls = address.scheme === 'grpc' ? 'grpcs' : 'https';
      return err(
        problem(option, `${option} \`${text}\` asks for plaintext (${address.scheme}://) but TLS options are set`, [
          `use ${tls}://${address.target}${address.path} for TLS, or unset remote_ca_certs_path / remote_client_certs_path for a plaintext server`,
        ]),
      );
    }
    if (address.scheme === 'none' && rootCerts === null && clientCertChain !== null) {
      return err(problem(option, `${option} \`${text}\` is plaintext (no scheme and no remote_ca_certs_path) but remote_client_certs_path is set`, [`write grpcs://${address.target} to use TLS with the system's roots, or set remote_ca_certs_path`]));
    }
    const useTls = address.scheme === 'grpcs' || address.scheme === 'https' || (address.scheme === 'none' && rootCerts !== null);
    const tls: TlsConfig | null = useTls ? { rootCerts, clientCertChain, clientKey } : null;
    const h = parseHeaders(options.dict(GLOBAL, headersOption), http ? 'http' : 'grpc');
    if (!h.ok) return err(problem(headersOption, `${headersOption}: ${h.failure}`, ['headers are a dict of name → string value, e.g. {"x-api-key": "…"}']));
    if (token !== null && 'authorization' in h.value) {
      return err(problem(headersOption, `${headersOption} sets \`authorization\` and remote_oauth_bearer_token_path is set too`, ['keep one of them: the token file is sent as `authorization: Bearer <token>`']));
    }
    return ok({ role, option, address, tls, token, headers: h.value });
  };

  const storeFromExec = options.maybeString(GLOBAL, 'remote_store_server') === null;
  const store = storeFromExec
    ? endpoint('store', 'remote_execution_server', storeText, 'remote_execution_headers')
    : endpoint('store', 'remote_store_server', storeText, 'remote_store_headers');
  if (!store.ok) return store;
  let executionEndpoint: EndpointConfig | null = null;
  if ((execution || forEnvironments) && execText !== null) {
    const e = endpoint('execution', 'remote_execution_server', execText, 'remote_execution_headers');
    if (!e.ok) return e;
    executionEndpoint = e.value;
  }

  const extra: PlatformProperty[] = [];
  for (const kv of options.list(GLOBAL, 'remote_execution_extra_platform_properties')) {
    const eq = kv.indexOf('=');
    if (eq <= 0) return err(problem('remote_execution_extra_platform_properties', `remote_execution_extra_platform_properties: ${JSON.stringify(kv)} is not KEY=VALUE`, ['for example OSFamily=linux']));
    extra.push({ name: kv.slice(0, eq), value: kv.slice(eq + 1) });
  }

  return ok({
    instanceName: options.maybeString(GLOBAL, 'remote_instance_name') ?? '',
    execution,
    cacheRead,
    cacheWrite,
    store: store.value,
    executionEndpoint,
    extraPlatformProperties: extra,
    remoteParallelism: options.int(GLOBAL, 'process_execution_remote_parallelism'),
    chunkBytes: options.int(GLOBAL, 'remote_store_chunk_bytes'),
    storeRpcRetries: options.int(GLOBAL, 'remote_store_rpc_retries'),
    storeRpcTimeoutMs: options.int(GLOBAL, 'remote_store_rpc_timeout_millis'),
    cacheRpcTimeoutMs: options.int(GLOBAL, 'remote_cache_rpc_timeout_millis'),
    batchApiSizeLimit: options.int(GLOBAL, 'remote_store_batch_api_size_limit'),
    warnings: options.enum<RemoteCacheWarnings>(GLOBAL, 'remote_cache_warnings'),
    cacheContentBehavior: options.enum<CacheContentBehavior>(GLOBAL, 'cache_content_behavior'),
    overallDeadlineMs: options.int(GLOBAL, 'remote_execution_overall_deadline_secs') * 1000,
    queueWarnAfterMs: options.int(GLOBAL, 'remote_execution_queue_warn_after_secs') * 1000,
  });
}

/**
 * One token line. A trailing newline (what editors and `echo` leave) is
 * fine; a second line is an error rather than silently sending half a file
 * (or two tokens glued together) as a credential.
 */
export function parseTokenFile(text: string): Result<string, string> {
  const body = text.replace(/\r?\n$/, '');
  if (/[\r\n]/.test(body)) return err(`has ${body.split(/\r?\n/).length} lines; it must hold exactly one line, the token`);
  const token = body.trim();
  if (token === '') return err('is empty; it must hold the bearer token');
  if (!/^[\x21-\x7e]+$/.test(token)) return err('holds characters a token cannot have (spaces or non-ASCII)');
  return ok(token);
}

/** Headers the HTTP client sets itself, per request: a user's value would contradict the request. */
const HTTP_RESERVED = new Set(['host', 'content-length', 'content-type', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer', 'expect']);

/**
 * Header names the transport lets a client send: lower-case, no reserved
 * ones (gRPC's, or for an HTTP cache those of a request's framing); values
 * printable ASCII.
 */
export function parseHeaders(dict: Readonly<Record<string, unknown>>, transport: 'grpc' | 'http' = 'grpc'): Result<Record<string, string>, string> {
  const out: Record<string, string> = {};
  for (const [rawName, value] of Object.entries(dict)) {
    const name = rawName.toLowerCase();
    if (!/^[0-9a-z_.-]+$/.test(name)) return err(`header name ${JSON.stringify(rawName)} may only contain letters, digits, '-', '_' and '.'`);
    if (transport === 'grpc' && (name.startsWith('grpc-') || name.startsWith(':') || name === 'te' || name === 'content-type' || name === 'user-agent')) {
      return err(`header ${JSON.stringify(rawName)} is reserved by gRPC`);
    }
    if (transport === 'http' && HTTP_RESERVED.has(name)) return err(`header ${JSON.stringify(rawName)} is set by trews on each HTTP request`);
    if (transport === 'grpc' && name.endsWith('-bin')) return err(`header ${JSON.stringify(rawName)}: binary (-bin) headers cannot be given as text`);
    if (typeof value !== 'string') return err(`header ${JSON.stringify(rawName)} must be a string, got ${JSON.stringify(value)}`);
    if (!/^[\x20-\x7e]*$/.test(value)) return err(`header ${JSON.stringify(rawName)} has a value with non-printable or non-ASCII characters`);
    if (name in out) return err(`header ${JSON.stringify(rawName)} is given twice (names are case-insensitive)`);
    out[name] = value;
  }
  return ok(out);
}

/** Whether `[environments] names` names any environment (the scope exists only when the core backend registered it). */
function environmentsNamed(options: Options): boolean {
  if (options.registry.scope('environments') === undefined) return false;
  return Object.keys(options.dict('environments', 'names')).length > 0;
}

function optionFailure(options: Options, option: string, message: string, hints: readonly string[]): Failure {
  const v = options.withSource(GLOBAL, option);
  const s: OptionSource = v.source;
  const via = v.sources.filter((x) => x.type !== 'default').map(describeSource);
  return failure('input', 'invalid-remote-options', `invalid remote configuration: ${message}`, {
    ...(s.type === 'config' ? { location: s.line !== undefined ? { file: s.file, line: s.line } : { file: s.file } } : {}),
    hints,
    ...(via.length > 0 ? { notes: [`${option} set by ${via.join(', ')}`] } : {}),
    exitCode: 2,
  });
}
