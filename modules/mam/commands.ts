// The archive's admin command (CLI `xmppd archive-query`, REST, ad-hoc): an account's archived messages
// (XEP-0313), oldest first, filtered by peer and time and limited to the newest `max`.
import { CommandError, Jid, JidError, type ModuleContext } from '../../src/sdk.js';
import { matching } from './archive.js';

function when(v: unknown, what: string): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const n = Date.parse(String(v));
  if (Number.isNaN(n)) throw new CommandError(`${what} must be a date and time (e.g. 2024-01-31T12:00:00Z)`);
  return n;
}

export function mamCommands(ctx: ModuleContext<any>): void {
  ctx.command({
    name: 'archive.query', description: "List an account's archived messages (XEP-0313), oldest first", args: ['jid', 'with?', 'start?', 'end?', 'max?'],
    async run(a, { jid }) {
      const start = when(a.start, 'start');
      const end = when(a.end, 'end');
      let withJid: Jid | undefined;
      if (a.with !== undefined && a.with !== '') {
        try {
          withJid = Jid.parse(String(a.with));
        } catch (err) {
          throw new CommandError(`with "${a.with}" is not a valid JID${err instanceof JidError ? `: ${err.message}` : ''}`);
        }
      }
      const max = a.max === undefined || a.max === '' ? undefined : Number(a.max);
      if (max !== undefined && (!Number.isInteger(max) || max < 0)) throw new CommandError('max must be a whole number');
      const hits = (await matching(ctx, jid!, { with: withJid, start, end })).map((r) => r.value);
      const shown = max !== undefined ? hits.slice(Math.max(0, hits.length - max)) : hits;
      return { jid: jid!.toString(), count: hits.length, messages: shown.map((m) => ({ id: m.id, stamp: m.stamp, with: m.with, xml: m.xml })) };
    },
  });
}
