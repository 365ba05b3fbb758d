// Opening the TCP (or XEP-0368 direct TLS) connection to a peer domain: the targets of RFC 6120 §3.2 in
// order, each of their addresses in turn, until one accepts (§3.2.1 "try the next target").
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { ResolveError, type S2sResolver, type S2sTarget } from './s2s-resolver.js';
import type { S2sTls } from './s2s-tls.js';

export interface PeerConnection { socket: Socket; target: S2sTarget }

/** No target could be reached (remote-server-not-found); the message says why, for logs and bounces. */
export class ConnectError extends Error {}

export interface ConnectOptions {
  resolver: S2sResolver;
  tls: S2sTls;
  local: string;
  remote: string;
  /** Polled between attempts: the caller gave up (timeout, shutdown). */
  cancelled(): boolean;
  /** The attempt in flight (null when none), so that the caller can destroy it when giving up. */
  pending(sock: Socket | null): void;
}

/** The first connection that works, or null when cancelled; throws ConnectError when none works. */
export async function connectToPeer(o: ConnectOptions): Promise<PeerConnection | null> {
  let targets: S2sTarget[];
  try {
    targets = await o.resolver.targets(o.remote);
  } catch (err) {
    throw new ConnectError(err instanceof ResolveError ? err.message : `cannot resolve ${o.remote}`);
  }
  let lastError = 'no targets';
  for (const target of targets) {
    const addresses = await o.resolver.addresses(target.host);
    if (!addresses.length) lastError = `${target.host} has no address`;
    for (const address of addresses) {
      if (o.cancelled()) return null;
      const r = await attempt(o, address, target);
      if (o.cancelled()) {
        if (typeof r !== 'string') r.destroy();
        return null;
      }
      if (typeof r !== 'string') return { socket: r, target };
      lastError = r;
    }
  }
  throw new ConnectError(`cannot connect to ${o.remote}: ${lastError}`);
}

/** One address: the connected socket, or why not. */
function attempt(o: ConnectOptions, address: string, t: S2sTarget): Promise<Socket | string> {
  return new Promise((resolve) => {
    const direct = t.tls === 'direct';
    const sock: Socket = direct
      // XEP-0368 §3: ALPN xmpp-server, SNI the XMPP domain (clientOptions sets servername).
      ? tlsConnect({ host: address, port: t.port, ...o.tls.clientOptions(o.local, o.remote), ALPNProtocols: ['xmpp-server'] })
      : netConnect({ host: address, port: t.port });
    o.pending(sock);
    const done = (ok: boolean, why?: string) => {
      sock.removeAllListeners('error');
      sock.removeAllListeners('close');
      sock.removeAllListeners(direct ? 'secureConnect' : 'connect');
      o.pending(null);
      if (ok) return resolve(sock);
      sock.on('error', () => {});
      sock.destroy();
      resolve(`${address} port ${t.port}${direct ? ' (direct TLS)' : ''}: ${why}`);
    };
    sock.once(direct ? 'secureConnect' : 'connect', () => done(true));
    sock.once('error', (err: NodeJS.ErrnoException) => done(false, err.code ?? err.message));
    sock.once('close', () => done(false, 'closed'));
  });
}
