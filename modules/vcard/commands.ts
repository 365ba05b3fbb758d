// The vCard admin commands (CLI `xmppd vcard get|set`, REST, ad-hoc): read and replace an account's vCard (XEP-0054).
import { CommandError, parseXml, type Element, type ModuleContext } from '../../src/sdk.js';
import { getVcard, setVcard } from './rows.js';

export function vcardCommands(ctx: ModuleContext<any>): void {
  ctx.command({
    name: 'vcard.get', description: "Show an account's vCard (XML)", args: ['jid'],
    async run(_a, { jid }) {
      const card = await getVcard(ctx, jid!);
      if (!card) throw new CommandError(`${jid!.toString()} has no vCard`, 'not-found');
      return { jid: jid!.toString(), vcard: card.toString() };
    },
  });
  ctx.command({
    name: 'vcard.set', description: "Replace an account's vCard (XML <vCard xmlns='vcard-temp'/>)", args: ['jid', 'vcard'],
    async run(a, { jid }) {
      let card: Element;
      try {
        card = parseXml(String(a.vcard ?? ''));
      } catch (err) {
        throw new CommandError(`the vCard is not well-formed XML: ${(err as Error).message}`);
      }
      if (card.name !== 'vCard' || card.attrs.xmlns !== 'vcard-temp') throw new CommandError(`the vCard must be <vCard xmlns='vcard-temp'>…</vCard>`);
      await setVcard(ctx, jid!, card);
      return { set: jid!.toString() };
    },
  });
}
