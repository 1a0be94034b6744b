import { CallCredentials, ChannelCredentials } from '@grpc/grpc-js';
import type { Socket } from 'node:net';
import { connect, createSecureContext, type SecureContext } from 'node:tls';
import type { TlsConfig } from './remote-config.js';

/**
 * TLS credentials for a server addressed by IP (`grpcs://10.0.0.5:8980`).
 *
 * grpc-js sets the TLS ServerName (SNI) to the host it connects to, IP or
 * not. RFC 6066 forbids an IP there; Node prints a DeprecationWarning for it
 * (DEP0123) on every such client, and plans to refuse it. Here the
 * handshake sends no ServerName, and the certificate is checked against the
 * IP itself (Node checks `host` when there is no ServerName), as grpc-js
 * would: a certificate must carry that IP as a subjectAltName. Everything
 * else is what grpc-js' own secure connector does: ALPN h2, and an
 * unverified peer refused. Host names keep grpc-js' credentials.
 */
export function ipTlsCredentials(tls: TlsConfig, ip: string): ChannelCredentials {
  const context = createSecureContext({
    ...(tls.rootCerts !== null ? { ca: tls.rootCerts } : {}),
    ...(tls.clientKey !== null ? { key: tls.clientKey } : {}),
    ...(tls.clientCertChain !== null ? { cert: tls.clientCertChain } : {}),
  });
  return new IpTlsCredentials(context, ip);
}

/** grpc-js declares this interface on ChannelCredentials without exporting its name. */
type SecureConnector = ReturnType<ChannelCredentials['_createSecureConnector']>;

class IpTlsCredentials extends ChannelCredentials {
  readonly #context: SecureContext;
  readonly #ip: string;

  constructor(context: SecureContext, ip: string) {
    super();
    this.#context = context;
    this.#ip = ip;
  }

  override _isSecure(): boolean {
    return true;
  }

  override _equals(other: ChannelCredentials): boolean {
    return other === this;
  }

  override _createSecureConnector(_target: unknown, _options: unknown, callCredentials?: CallCredentials): SecureConnector {
    const context = this.#context;
    const host = this.#ip;
    const creds = callCredentials ?? CallCredentials.createEmpty();
    return {
      connect: (socket: Socket) =>
        new Promise((resolve, reject) => {
          const tlsSocket = connect({ socket, secureContext: context, host, ALPNProtocols: ['h2'] }, () => {
            if (!tlsSocket.authorized) {
              reject(tlsSocket.authorizationError);
              return;
            }
            resolve({ socket: tlsSocket, secure: true });
          });
          tlsSocket.on('error', reject);
        }),
      waitForReady: () => Promise.resolve(),
      getCallCredentials: () => creds,
      destroy: () => undefined,
    };
  }
}
