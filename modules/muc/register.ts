// XEP-0045 §7.10 registering with a room (jabber:iq:register, FORM_TYPE muc#register): a user reserves a nick
// and becomes a member; §7.2.9 that nick is then refused to others (conflict); §7.12 the reserved nick is
// discoverable (disco#info node x-roomuser-item). A <remove/> cancels the registration and the membership.
import { StanzaError, xml, type Element } from '../../src/sdk.js';
import { NS_DATA } from './ns.js';
import { RANK, type Room } from './room.js';
import type { IqCall, MucService } from './service.js';

export const NS_REGISTER = 'jabber:iq:register';
const NS_MUC_REGISTER = 'http://jabber.org/protocol/muc#register';
const NICK = 'muc#register_roomnick';

/** The bare JID that reserved `nick` in the room, if any. */
export function nickOwner(room: Room, nick: string): string | undefined {
  for (const [jid, a] of room.affiliations) if (a.nick === nick) return jid;
  return undefined;
}

export async function registerQuery(svc: MucService, room: Room, call: IqCall): Promise<Element | null> {
  const bare = call.from.bareString();
  const entry = room.affiliations.get(bare);
  if (entry?.affiliation === 'outcast') throw new StanzaError('forbidden', 'you are banned from this room');
  if (call.type === 'get') {
    if (entry?.nick) return xml('query', { xmlns: NS_REGISTER }, xml('registered'), xml('username', {}, entry.nick));
    const x = xml('x', { xmlns: NS_DATA, type: 'form' }, xml('title', {}, `Registration with ${room.jid.toString()}`),
      xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, NS_MUC_REGISTER)),
      xml('field', { var: NICK, type: 'text-single', label: 'Desired nickname' }, xml('required')));
    return xml('query', { xmlns: NS_REGISTER }, xml('instructions', {}, 'Choose the nickname to reserve in this room.'), x);
  }
  if (call.payload.getChild('remove')) {
    if (!entry?.nick) throw new StanzaError('item-not-found', 'you are not registered with this room');
    if (entry.affiliation === 'member') room.affiliations.delete(bare);
    else room.affiliations.set(bare, { affiliation: entry.affiliation, ...(entry.reason && { reason: entry.reason }) });
    if (room.config.persistent) await svc.persist(room);
    return null;
  }
  const form = call.payload.getChild('x', NS_DATA);
  if (!form || form.attrs.type !== 'submit') throw new StanzaError('bad-request', 'submit the muc#register form');
  const nick = form.getChildren('field').find((f) => f.attrs.var === NICK)?.getChildText('value')?.trim();
  if (!nick) throw new StanzaError('not-acceptable', `${NICK} is required`);
  const owner = nickOwner(room, nick);
  const inUse = room.occupants.get(nick);
  if ((owner && owner !== bare) || (inUse && inUse.bare.bareString() !== bare)) throw new StanzaError('conflict', 'that nickname is taken in this room');
  // A members-only room admits new members through its admins only.
  if (room.config.membersOnly && RANK[entry?.affiliation ?? 'none'] < RANK.member) throw new StanzaError('registration-required', 'ask an admin for membership');
  room.affiliations.set(bare, { ...(entry ?? {}), affiliation: entry?.affiliation ?? 'member', nick });
  if (room.config.persistent) await svc.persist(room);
  return null;
}
