import { err, ok, type Result } from '../../core/index.js';

/**
 * A remote server as the user wrote it, parsed. `host:port` is the Pants 2.2
 * spelling (plaintext unless `remote_ca_certs_path` turns TLS on);
 * `grpc://` is always plaintext and `grpcs://` always TLS.
 */
export interface RemoteAddress {
  /** What the user wrote, for messages. */
  readonly text: string;
  readonly scheme: 'grpc' | 'grpcs' | 'none';
  readonly host: string;
  readonly port: number;
  /** The gRPC target: `host:port`, IPv6 hosts in brackets. */
  readonly target: string;
}

/** The ports people mean when they leave one out of a TLS address (BuildBuddy's docs do). */
const DEFAULT_TLS_PORT = 443;

const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/;
const IPV6 = /^[0-9A-Fa-f:.]+$/;

/**
 * Parses a `remote_store_server` / `remote_execution_server` value. The
 * error is a sentence fragment the caller puts after the option's name.
 */
export function parseRemoteAddress(text: string): Result<RemoteAddress, string> {
  const trimmed = text.trim();
  if (trimmed === '') return err('is empty; expected host:port, grpc://host:port or grpcs://host:port');
  let scheme: RemoteAddress['scheme'] = 'none';
  let rest = trimmed;
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(trimmed);
  if (m !== null) {
    const s = (m[1] ?? '').toLowerCase();
    if (s === 'grpc' || s === 'grpcs') scheme = s;
    else {
      const hint = s === 'https' ? ' (for TLS use grpcs://)' : s === 'http' ? ' (use grpc://)' : '';
      return err(`has the scheme \`${m[1]}://\`, which trews does not speak${hint}; use grpc:// or grpcs://, or write host:port`);
    }
    rest = trimmed.slice(m[0].length);
  }
  // A trailing slash is harmless (URLs get pasted); a path is not: REAPI has
  // no path prefix, the instance name is `remote_instance_name`.
  if (rest.endsWith('/')) rest = rest.slice(0, -1);
  if (rest.includes('/')) {
    return err(`has a path (\`${rest.slice(rest.indexOf('/'))}\`); a REAPI address is only host:port — set the instance name with remote_instance_name`);
  }
  if (rest.includes('@') || rest.includes('?') || rest.includes('#')) return err('must be host:port only, without user, query or fragment');

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
    if (scheme !== 'grpcs') return err(`has no port; write ${host}:PORT (only grpcs:// addresses default to port ${DEFAULT_TLS_PORT})`);
    port = DEFAULT_TLS_PORT;
  } else {
    if (!/^\d{1,5}$/.test(portText)) return err(`has an invalid port \`${portText}\``);
    port = Number(portText);
    if (port < 1 || port > 65535) return err(`has port ${port}, outside 1-65535`);
  }
  const target = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  return ok({ text: trimmed, scheme, host, port, target });
}
