// message-logger: an example third-party xmppd module. A user_send_packet handler records the messages
// local users send (who, to whom, type, body length; the body itself only in debug logs), keeps the last
// `keep` in memory, and lets server admins read them with an IQ get to the server (urn:example:message-logger).
import { defineModule, opt, StanzaError, xml, type Jid } from 'xmppd/sdk';

export const NS_MESSAGE_LOGGER = 'urn:example:message-logger';

interface Entry { at: number; from: Jid; to: Jid; type: string; length: number }

export default defineModule({
  name: 'message-logger',
  description: 'Records metadata of messages sent by local users, readable by admins',
  features: [NS_MESSAGE_LOGGER], // advertised in the server's disco#info while the module runs
  options: {
    /** How many recent messages to remember (per host). */
    keep: opt.number(100, { min: 0, integer: true }),
  },
  start(ctx) {
    const { keep } = ctx.options;
    const recent: Entry[] = []; // in memory only: gone on unload, reload and restart
    const recorded = ctx.counter({ name: 'message_logger_recorded_total', help: 'Messages recorded by message-logger', labelNames: ['host'] });

    // Low priority: runs after other user_send_packet handlers, so it records what is actually routed
    // (a handler that DROPs the message first keeps it out of the log).
    ctx.hook('user_send_packet', (el, { from, to }) => {
      if (el.name !== 'message') return;
      const body = el.getChildText('body');
      if (body === null) return; // chat states, receipts and the like
      const entry: Entry = { at: Date.now(), from, to, type: el.attrs.type ?? 'normal', length: [...body].length };
      // Metadata at info; a message body is private and goes to debug logs only.
      ctx.log.info('message sent', { from: from.toString(), to: to.toString(), type: entry.type, length: entry.length });
      if (ctx.log.isDebug()) ctx.log.debug('message body', { from: from.toString(), body });
      recent.push(entry);
      if (recent.length > keep) recent.splice(0, recent.length - keep);
      recorded.inc({ host: ctx.host });
      // returning nothing leaves the stanza unchanged
    }, 10);

    // A deleted account's messages are forgotten with it.
    ctx.hook('user_removed', ({ jid }) => {
      for (let i = recent.length - 1; i >= 0; i--) {
        if (recent[i]!.from.bare().equals(jid) || recent[i]!.to.bare().equals(jid)) recent.splice(i, 1);
      }
    });

    // <iq type='get' to='HOST'><query xmlns='urn:example:message-logger'/></iq>, for admins only.
    ctx.iq('host', NS_MESSAGE_LOGGER, (req) => {
      if (!ctx.inAcl('admin', { jid: req.from })) throw new StanzaError('forbidden', 'only server admins may read the message log');
      if (req.type !== 'get' || req.payload.name !== 'query') throw new StanzaError('bad-request', 'send <query/> in an IQ get; the log is read-only');
      const query = xml('query', { xmlns: NS_MESSAGE_LOGGER, keep: String(keep) });
      for (const e of recent) {
        query.c('message', { stamp: new Date(e.at).toISOString(), from: e.from.toString(), to: e.to.toString(), type: e.type, length: String(e.length) });
      }
      return query;
    });
  },
});
