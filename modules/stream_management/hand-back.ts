// XEP-0198 §5: a session that ends with stanzas it never acknowledged. Messages go to the offline store
// as they were written (the archive already holds them: they are not accepted twice); what cannot be
// stored is bounced to its sender, except errors (never answered with an error) and groupchat (an error to
// a room would take the user out of it). Carbon copies are not stored: the original reached another
// resource and the archive, so storing the copy would give the account the same message twice.
import { Jid, StanzaError, errorReply, type Element, type ModuleContext, type Session } from '../../src/sdk.js';

const NS_CARBONS = 'urn:xmpp:carbons:2';

export async function handBack(ctx: ModuleContext<any>, session: Session, unacked: Element[]): Promise<{ stored: number; bounced: number }> {
  let stored = 0;
  let bounced = 0;
  const bare = session.jid.bare();
  for (const el of unacked) {
    const type = el.attrs.type;
    if (type === 'error') continue;
    const from = Jid.tryParse(el.attrs.from);
    if (!from) continue;
    if (el.name === 'message') {
      if (el.getChild('received', NS_CARBONS) || el.getChild('sent', NS_CARBONS)) continue;
      if (type !== 'groupchat' && type !== 'headline' && ctx.hasHandlers('offline_message')) {
        const r = await ctx.runFilter('offline_message', { handled: false }, { stanza: el, from, to: bare, accepted: true });
        if (r !== undefined && typeof r === 'object' && r.handled) {
          stored++;
          continue;
        }
      }
      if (type === 'groupchat') continue;
    } else if (el.name !== 'iq' || (type !== 'get' && type !== 'set')) {
      continue; // presence is state (the contact's next one replaces it); IQ results need no answer
    }
    const reply = errorReply(el, new StanzaError('service-unavailable', 'the recipient\'s session ended before the stanza was acknowledged'), session.jid.toString());
    reply.attrs.to = from.toString();
    ctx.send(reply, session.jid, from);
    bounced++;
  }
  return { stored, bounced };
}
