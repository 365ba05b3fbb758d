// XEP-0045 §7.13 / §8.6 voice requests: a visitor asks for voice with a muc#request form; each moderator
// gets an approval form from the room; a moderator's approval (muc#request_allow) makes the visitor a participant.
import { StanzaError, xml, type Element, type Jid } from '../../src/sdk.js';
import { fanout } from './fanout.js';
import { NS_DATA } from './ns.js';
import { broadcastPresence } from './occupants.js';
import type { Room } from './room.js';
import type { MucService } from './service.js';

export const NS_REQUEST = 'http://jabber.org/protocol/muc#request';

/** The muc#request form of a message, if it carries one. */
export function requestForm(el: Element): Map<string, string> | null {
  const x = el.getChildren('x', NS_DATA).find((f) => f.getChildren('field').some((c) => c.attrs.var === 'FORM_TYPE' && c.getChildText('value') === NS_REQUEST));
  if (!x) return null;
  const values = new Map<string, string>();
  for (const f of x.getChildren('field')) if (typeof f.attrs.var === 'string') values.set(f.attrs.var, f.getChildText('value') ?? '');
  return values;
}

function field(type: string, v: string, label: string, value: string): Element {
  return xml('field', { type, var: v, label }, xml('value', {}, value));
}

export async function voiceRequest(svc: MucService, room: Room, form: Map<string, string>, from: Jid): Promise<void> {
  const occ = room.bySession.get(from.toString()) ?? room.byBare.get(from.bareString());
  if (!occ) throw new StanzaError('not-acceptable', 'only occupants may ask for voice');
  if (form.has('muc#request_allow')) {
    // §8.6: a moderator's answer.
    if (occ.role !== 'moderator') throw new StanzaError('forbidden', 'only moderators approve voice requests');
    const allow = form.get('muc#request_allow');
    if (allow !== '1' && allow !== 'true') return;
    const target = room.occupants.get(form.get('muc#roomnick') ?? '');
    if (!target || target.role !== 'visitor') return;
    target.role = 'participant';
    await broadcastPresence(svc, room, target, { item: { actor: occ.nick } });
    return;
  }
  if (form.get('muc#role') !== 'participant') throw new StanzaError('bad-request', 'ask for the participant role');
  if (occ.role !== 'visitor') return; // already has voice
  // §7.13: the request goes to every moderator as an approval form.
  const x = xml('x', { xmlns: NS_DATA, type: 'form' }, xml('title', {}, 'Voice request'),
    xml('instructions', {}, `To approve this request for voice, select the "Grant voice" checkbox and submit this form.`),
    xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, NS_REQUEST)),
    field('list-single', 'muc#role', 'Requested role', 'participant'),
    field('jid-single', 'muc#jid', 'User ID', from.toString()),
    field('text-single', 'muc#roomnick', 'Room Nickname', occ.nick),
    field('boolean', 'muc#request_allow', 'Grant voice to this person?', 'false'));
  const msg = xml('message', { from: room.jid.toString() }, x);
  const moderators: Jid[] = [];
  for (const o of room.occupants.values()) if (o.role === 'moderator') moderators.push(...o.sessions.values());
  await fanout(svc.route, msg, room.jid, moderators);
}
