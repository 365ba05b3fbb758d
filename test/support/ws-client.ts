// A raw XMPP-over-WebSocket client for tests (RFC 7395): one element per text message, the messages it has
// received, and waits for the next one that matches.
import type { Socket } from 'node:net';
import { WebSocket } from 'ws';

export interface WsClient {
  ws: WebSocket;
  /** The TCP (ws://) or TLS (wss://) connection under the WebSocket. */
  socket: Socket;
  /** Every text message received, in order. */
  received: string[];
  send(text: string): void;
  /** The first message (from `from` on) matching `re`; its index is remembered so the next call continues after it. */
  next(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves with the close code once the WebSocket is closed. */
  closed: Promise<number>;
  close(): void;
}

export interface WsConnectOptions {
  protocols?: string[];
  origin?: string;
  ca?: string;
  /** false: do not answer the server's pings (a peer that is gone). */
  autoPong?: boolean;
  /** More request headers (e.g. X-Forwarded-For as a proxy adds it). */
  headers?: Record<string, string>;
}

/** Connect; rejects with the HTTP status when the upgrade is refused. */
export function wsConnect(url: string, opts: WsConnectOptions = {}): Promise<WsClient> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts.protocols ?? ['xmpp'], { ...(opts.origin ? { origin: opts.origin } : {}), ...(opts.ca ? { ca: opts.ca } : {}), autoPong: opts.autoPong ?? true, ...(opts.headers ? { headers: opts.headers } : {}) });
    const received: string[] = [];
    let socket: Socket | null = null;
    ws.once('upgrade', (res) => { socket = res.socket; });
    let cursor = 0;
    const waiters = new Set<() => void>();
    const closed = new Promise<number>((r) => ws.once('close', (code) => { for (const w of waiters) w(); r(code); }));
    ws.on('message', (data, isBinary) => {
      received.push(isBinary ? `<binary ${(data as Buffer).length}>` : data.toString());
      for (const w of waiters) w();
    });
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode })));
    ws.once('error', reject);
    ws.once('open', () => {
      ws.off('error', reject);
      ws.on('error', () => {});
      resolve({
        ws,
        socket: socket!,
        received,
        send: (text) => ws.send(text),
        next(re, timeoutMs = 10_000) {
          return new Promise((res, rej) => {
            const check = (): void => {
              for (let i = cursor; i < received.length; i++) {
                if (re.test(received[i]!)) {
                  cursor = i + 1;
                  waiters.delete(check);
                  clearTimeout(timer);
                  return res(received[i]!);
                }
              }
              if (ws.readyState === WebSocket.CLOSED) {
                waiters.delete(check);
                clearTimeout(timer);
                rej(new Error(`closed before a message matching ${re} (got: ${received.slice(cursor).join(' | ')})`));
              }
            };
            const timer = setTimeout(() => {
              waiters.delete(check);
              rej(new Error(`no message matching ${re} (got: ${received.slice(cursor).join(' | ')})`));
            }, timeoutMs);
            waiters.add(check);
            check();
          });
        },
        closed,
        close: () => ws.close(),
      });
    });
  });
}

const FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing';
export const openFrame = (to: string): string => `<open xmlns='${FRAMING}' to='${to}' version='1.0'/>`;
export const closeFrame = `<close xmlns='${FRAMING}'/>`;

/** Open, SASL PLAIN (ws:// from loopback counts as secure), restart, bind: the bound full JID. */
export async function wsLogin(c: WsClient, host: string, user: string, password: string, resource = 'ws'): Promise<string> {
  c.send(openFrame(host));
  await c.next(/<open /);
  await c.next(/<stream:features/);
  c.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${user}\0${password}`).toString('base64')}</auth>`);
  await c.next(/<success/);
  c.send(openFrame(host));
  await c.next(/<open /);
  await c.next(/<stream:features/);
  c.send(`<iq xmlns='jabber:client' type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`);
  const bound = await c.next(/id='bind1'|id="bind1"/);
  const jid = /<jid>([^<]+)<\/jid>/.exec(bound)?.[1];
  if (!jid) throw new Error(`bind failed: ${bound}`);
  return jid;
}
