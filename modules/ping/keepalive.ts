// XEP-0199 §4.2 server-to-client pings: a session that has sent nothing for ping_interval gets a ping; no
// answer within ping_timeout ends it with connection-timeout (RFC 6120 §4.9.3.4), so a half-dead
// connection stops taking the account's messages and they go to its other resources or offline.
import { xml, NS, StanzaError, StreamError, type ModuleContext, type Session } from '../../src/sdk.js';

export interface KeepaliveOptions { ping_interval: number; ping_timeout: number; timeout_action: 'close' | 'none' }

/** Longest pause between two sweeps: a long interval is still checked often enough to be close to it. */
const MAX_TICK_MS = 15_000;

export function startKeepalive(ctx: ModuleContext<KeepaliveOptions>): void {
  const { ping_interval, ping_timeout, timeout_action } = ctx.options;
  if (ping_interval === 0) return;
  const intervalMs = ping_interval * 1000;
  const timeoutMs = ping_timeout * 1000;
  /**
   * Session id -> when it was opened or last pinged without an answer. When its client last sent a stanza
   * comes from the session itself (lastActiveAt): a user_send_packet handler for that put a hook chain, its
   * timing and a promise on every stanza.
   */
  const lastSeen = new Map<string, number>();
  const pending = new Set<string>();
  let stopped = false;
  ctx.onStop(() => void (stopped = true));
  const pings = ctx.counter({ name: 'xmppd_c2s_pings_total', help: 'Server-to-client pings (XEP-0199 §4.2) by outcome: sent, answered, timeout', labelNames: ['host', 'outcome'] });

  ctx.hook('session_opened', ({ session }) => void lastSeen.set(session.id, Date.now()));
  ctx.hook('session_closed', ({ session }) => {
    lastSeen.delete(session.id);
    pending.delete(session.id);
  });

  const ping = async (s: Session): Promise<void> => {
    pending.add(s.id);
    pings.inc({ host: ctx.host, outcome: 'sent' });
    try {
      // An error answer (a client without XEP-0199 says service-unavailable) also proves it is there.
      await ctx.request(xml('iq', { type: 'get' }, xml('ping', { xmlns: NS.PING })), s.jid, timeoutMs);
      pings.inc({ host: ctx.host, outcome: 'answered' });
    } catch (err) {
      if (stopped || !(err instanceof StanzaError)) return;
      pings.inc({ host: ctx.host, outcome: 'timeout' });
      if (!ctx.sessionsOf(s.jid.bare()).includes(s)) return; // gone meanwhile
      // Not pinged again for an interval: with `none` that is the next try, with `close` the session is
      // gone long before (it may still be registered while its socket drains).
      lastSeen.set(s.id, Date.now());
      if (timeout_action === 'close') {
        ctx.log.info('closing a session that did not answer a ping', { jid: s.jid.toString(), timeout: ping_timeout });
        s.close(new StreamError('connection-timeout', `no answer to a ping within ${ping_timeout} s`));
      }
    } finally {
      pending.delete(s.id);
    }
  };

  const sweep = (): void => {
    const now = Date.now();
    for (const s of ctx.hostSessions()) {
      if (pending.has(s.id) || s.detached) continue; // no transport to probe: it waits to be resumed (XEP-0198)
      const mark = lastSeen.get(s.id);
      if (mark === undefined) lastSeen.set(s.id, now); // bound before the module started
      // Any stanza from the client shows the connection works (a ping answer too): no ping is needed then.
      else if (now - Math.max(mark, s.lastActiveAt ?? 0) >= intervalMs) void ping(s);
    }
  };
  ctx.setInterval(sweep, Math.max(250, Math.min(intervalMs / 4, MAX_TICK_MS)));
}
