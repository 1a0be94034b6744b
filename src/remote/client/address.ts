import { err, ok, type Result } from '../../core/index.js';

/**
 * A remote server as the user wrote it, parsed. `host:port` is the Pants 2.2
 * spelling (plaintext unless `remote_ca_certs_path` turns TLS on);
 * `grpc://` is always plaintext and `grpcs://` always TLS. `http://` and
 * `https://` name an HTTP cache (bazel-remote, Bazel's `--remote_cache=http…`),
 * which may live under a path.
 */
export interface RemoteAddress {
  /** What the user wrote, for messages. */
  readonly text: string;
  readonly scheme: 'grpc' | 'grpcs' | 'none' | 'http' | 'https';
  readonly host: string;
  readonly port: number;
  /** `host:port`, IPv6 hosts in brackets: the gRPC target, or the HTTP authority. */
  readonly target: string;
  /** HTTP caches only: the path `/ac/…` and `/cas/…` live under, without a trailing slash (`''` at the root). */
  readonly path: string;
}

/** Which protocol an address speaks: the remote layers pick their provider by it. */
export function protocolOf(a: RemoteAddress): 'reapi' | 'http' {
  return a.scheme === 'http' || a.scheme === 'https' ? 'http' : 'reapi';
}

/** The ports people mean when they leave one out of a TLS address (BuildBuddy's docs do). */
const DEFAULT_TLS_PORT = 443;
const DEFAULT_HTTP_PORT = 80;

const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/;
const IPV6 = /^[0-9A-Fa-f:.]+$/;

/**
 * Parses a `remote_store_server` / `remote_execution_server` value. The
 * error is a sentence fragment the caller puts after the option's name.
 */
export function parseRemoteAddress(text: string): Result<RemoteAddress, string> {
  const trimmed = text.trim();
  if (trimmed === '') return err('is empty; expected host:port, grpc://host:port, grpcs://host:port or http(s)://host:port');
  let scheme: RemoteAddress['scheme'] = 'none';
  let rest = trimmed;
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(trimmed);
  if (m !== null) {
    const s = (m[1] ?? '').toLowerCase();
    if (s === 'grpc' || s === 'grpcs' || s === 'http' || s === 'https') scheme = s;
    else {
      return err(`has the scheme \`${m[1]}://\`, which trews does not speak; use grpc:// or grpcs:// for a REAPI server, http:// or https:// for an HTTP cache, or write host:port`);
    }
    rest = trimmed.slice(m[0].length);
  }
  const http = scheme === 'http' || scheme === 'https';
  if (rest.includes('?') || rest.includes('#')) return err('must not have a query or fragment');
  let path = '';
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    path = rest.slice(slash).replace(/\/+$/, '');
    rest = rest.slice(0, slash);
  }
  // A trailing slash is harmless (URLs get pasted); a path is not, for
  // REAPI: it has no path prefix, the instance name is `remote_instance_name`.
  if (path !== '' && !http) {
    return err(`has a path (\`${path}\`); a REAPI address is only host:port — set the instance name with remote_instance_name`);
  }
  if (path !== '' && !/^(\/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)+$/.test(path)) return err(`has a path (\`${path}\`) with empty segments or characters a URL path cannot have`);
  if (rest.includes('@')) return err(http ? 'must not carry a user or password; put a token in remote_oauth_bearer_token_path' : 'must be host:port only, without user, query or fragment');

  let host: string;
  let portText: string | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) return err('has an unclosed `[` in its IPv6 host');
    host = rest.slice(1, close);
    const after = rest.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) return err('has text after its IPv6 host; expected [addr]:port');
    portText = after === '' ? undefined : after.slice(1);
    if (!IPV6.test(host)) return err(`has an invalid IPv6 host \`${host}\``);
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon !== rest.indexOf(':')) return err('has several `:`; write an IPv6 host in brackets, as [::1]:8980');
    host = colon < 0 ? rest : rest.slice(0, colon);
    portText = colon < 0 ? undefined : rest.slice(colon + 1);
    if (!HOST_NAME.test(host)) return err(`has an invalid host name \`${host}\``);
  }

  let port: number;
  if (portText === undefined) {
    if (scheme === 'grpcs' || scheme === 'https') port = DEFAULT_TLS_PORT;
    else if (scheme === 'http') port = DEFAULT_HTTP_PORT;
    else return err(`has no port; write ${host}:PORT (only grpcs:// and http(s):// addresses have a default port)`);
  } else {
    if (!/^\d{1,5}$/.test(portText)) return err(`has an invalid port \`${portText}\``);
    port = Number(portText);
    if (port < 1 || port > 65535) return err(`has port ${port}, outside 1-65535`);
  }
  const target = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  return ok({ text: trimmed, scheme, host, port, target, path });
}
