// Service discovery of the MUC service (XEP-0045 §6): the service (identity conference/text), its public
// rooms with their names (§6.3), and each room's features and muc#roominfo form (§6.4, §15.5.4).
import { StanzaError, xml, type Element } from '../../src/sdk.js';
import { NS_DATA, NS_DISCO_INFO, NS_DISCO_ITEMS, NS_MUC, NS_OCCUPANT_ID, NS_PING, NS_ROOMINFO, NS_STABLE_ID } from './ns.js';
import type { Room } from './room.js';
import type { IqCall, MucService } from './service.js';

/** Features of the service itself. */
export const SERVICE_FEATURES = [NS_DISCO_INFO, NS_DISCO_ITEMS, NS_MUC, NS_STABLE_ID, NS_OCCUPANT_ID, NS_PING, 'jabber:iq:register'];

export function serviceInfo(svc: MucService, call: IqCall): Element {
  if (call.type !== 'get') throw new StanzaError('bad-request', 'disco#info is read-only');
  if (call.payload.attrs.node) throw new StanzaError('item-not-found');
  const q = xml('query', { xmlns: NS_DISCO_INFO });
  q.c('identity', { category: 'conference', type: 'text', name: svc.options.name });
  for (const f of SERVICE_FEATURES) q.c('feature', { var: f });
  return q;
}

/**
 * §6.3: the public rooms (hidden and locked ones are not listed), with their names. In a cluster this node holds
 * some rooms only: the persistent ones come from the replicated tables (this node's copies are fresher).
 */
export async function serviceItems(svc: MucService, call: IqCall): Promise<Element> {
  if (call.type !== 'get') throw new StanzaError('bad-request', 'disco#items is read-only');
  if (call.payload.attrs.node) throw new StanzaError('item-not-found');
  const q = xml('query', { xmlns: NS_DISCO_ITEMS });
  const listed = new Map<string, { jid: string; name: string }>();
  if (svc.clustered) {
    await svc.ctx.store.barrier(); // rooms made through other nodes until now are listed
    for (const s of await svc.store.load()) {
      if (s.row.config.public) listed.set(s.name, { jid: `${s.name}@${svc.domain}`, name: s.row.config.name || s.name });
    }
  }
  for (const r of svc.rooms.values()) {
    if (r.config.public && !r.locked) listed.set(r.name, { jid: r.jid.toString(), name: r.config.name || r.name });
    else listed.delete(r.name);
  }
  for (const name of [...listed.keys()].sort((a, b) => a.localeCompare(b))) q.c('item', listed.get(name)!);
  return q;
}

/** The muc_* features saying how the room is configured (§15.2.2). */
export function roomFeatures(room: Room): string[] {
  const c = room.config;
  return [
    NS_MUC, NS_STABLE_ID, NS_OCCUPANT_ID, NS_PING, 'jabber:iq:register',
    c.public ? 'muc_public' : 'muc_hidden',
    c.persistent ? 'muc_persistent' : 'muc_temporary',
    c.membersOnly ? 'muc_membersonly' : 'muc_open',
    c.passwordProtected ? 'muc_passwordprotected' : 'muc_unsecured',
    c.moderated ? 'muc_moderated' : 'muc_unmoderated',
    c.whois === 'anyone' ? 'muc_nonanonymous' : 'muc_semianonymous',
  ];
}

export function roomInfo(svc: MucService, room: Room | undefined, call: IqCall): Element {
  if (call.type !== 'get') throw new StanzaError('bad-request', 'disco#info is read-only');
  if (!room) throw new StanzaError('item-not-found', 'no such room');
  if (call.payload.attrs.node === 'x-roomuser-item') {
    // §7.12: the nick the requester registered, if any.
    const nick = room.affiliations.get(call.from.bareString())?.nick;
    const q = xml('query', { xmlns: NS_DISCO_INFO, node: 'x-roomuser-item' });
    if (nick) q.c('identity', { category: 'conference', type: 'text', name: nick });
    return q;
  }
  if (call.payload.attrs.node) throw new StanzaError('item-not-found', 'no such node');
  const q = xml('query', { xmlns: NS_DISCO_INFO });
  q.c('identity', { category: 'conference', type: 'text', name: room.config.name || room.name });
  const features = new Set(roomFeatures(room));
  for (const extra of svc.roomFeatures) for (const f of extra(room)) features.add(f);
  for (const f of features) q.c('feature', { var: f });
  const x = q.c('x', { xmlns: NS_DATA, type: 'result' });
  const field = (v: string, value: string, label?: string) => x.cnode(xml('field', { var: v, ...(label && { label }) }, xml('value', {}, value)));
  x.cnode(xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, NS_ROOMINFO)));
  field('muc#roominfo_description', room.config.description, 'Description');
  field('muc#roominfo_occupants', String(room.occupants.size), 'Number of occupants');
  field('muc#roomconfig_roomname', room.config.name, 'Name');
  field('muc#roominfo_subject', room.subject?.text ?? '', 'Subject');
  field('muc#roomconfig_changesubject', room.config.changeSubject ? '1' : '0', 'Occupants may change the subject');
  field('muc#roominfo_subjectmod', room.config.changeSubject ? '1' : '0');
  return q;
}

/** §6.5: occupants are not listed (their nicks could de-anonymise them); the room answers an empty list. */
export function roomItems(_svc: MucService, room: Room | undefined, call: IqCall): Element {
  if (call.type !== 'get') throw new StanzaError('bad-request', 'disco#items is read-only');
  if (!room) throw new StanzaError('item-not-found', 'no such room');
  return xml('query', { xmlns: NS_DISCO_ITEMS });
}
