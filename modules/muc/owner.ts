// muc#owner (XEP-0045 §10): the configuration form (get), its submission (instant rooms §10.1.2, reserved
// rooms §10.1.3 unlock, changes §10.2 with status codes, members-only removals 322), and destruction (§10.9).
import { Jid, StanzaError, xml, type Element } from '../../src/sdk.js';
import { applyConfig, changeCodes, configForm, submittedValues } from './config-form.js';
import { fanout } from './fanout.js';
import { NS_DATA, NS_MUC_OWNER, NS_MUC_USER } from './ns.js';
import { broadcastPresence, removeOccupant } from './occupants.js';
import { RANK, type Room } from './room.js';
import type { IqCall, MucService } from './service.js';
import { STATUS } from './status-codes.js';
import { checkConfigSubmission } from './form-check.js';
import { removeRoomArchive } from './room-archive.js';

export async function ownerQuery(svc: MucService, room: Room, call: IqCall): Promise<Element | null> {
  const aff = room.affiliation(call.from.bareString());
  // §10.1.3: a locked room does not exist for anyone but its owners.
  if (room.locked && aff !== 'owner') throw new StanzaError('item-not-found', 'no such room');
  if (aff !== 'owner') throw new StanzaError('forbidden', 'only owners configure the room');
  if (call.type === 'get') return xml('query', { xmlns: NS_MUC_OWNER }, configForm(room.config, room.jid.toString(), svc.options.max_users));
  const destroy = call.payload.getChild('destroy');
  if (destroy) {
    await destroyRoom(svc, room, destroy.attrs.jid as string | undefined, destroy.getChildText('reason') ?? undefined);
    return null;
  }
  const x = call.payload.getChild('x', NS_DATA);
  if (!x) throw new StanzaError('bad-request', 'submit the configuration form or <destroy/>');
  checkConfigSubmission(x, svc.options.max_config_text_length);
  const values = submittedValues(x);
  if (values === null) {
    // §10.1.3: cancelling the initial configuration destroys the reserved room.
    if (room.locked) await destroyRoom(svc, room);
    return null;
  }
  const before = room.config;
  const after = applyConfig(before, values, svc.options.max_users);
  const wasLocked = room.locked;
  room.config = after;
  room.locked = false;
  await svc.persist(room);
  call.after.push(async () => {
    if (!wasLocked) {
      const codes = changeCodes(before, after);
      if (codes.length) await announce(svc, room, codes);
      // The JIDs the others see changed: a fresh presence of each occupant goes out (§10.2.1).
      if (before.whois !== after.whois) for (const o of [...room.occupants.values()]) await broadcastPresence(svc, room, o, {});
    }
    // §9.x: becoming members-only removes every occupant who is not a member (322).
    if (after.membersOnly && !before.membersOnly) {
      for (const o of [...room.occupants.values()]) {
        if (RANK[room.affiliation(o.bare.bareString())] < RANK.member) await removeOccupant(svc, room, o, STATUS.MEMBERS_ONLY);
      }
    }
    svc.vanishIfEmpty(room);
  });
  return null;
}

/** §10.2.1: a message from the room itself carrying the status codes. */
async function announce(svc: MucService, room: Room, codes: number[]): Promise<void> {
  const x = xml('x', { xmlns: NS_MUC_USER });
  for (const c of codes) x.c('status', { code: String(c) });
  const msg = xml('message', { type: 'groupchat', from: room.jid.toString(), id: `config-${Date.now()}` }, x);
  const sessions: Jid[] = [];
  for (const o of room.occupants.values()) sessions.push(...o.sessions.values());
  await fanout(svc.route, msg, room.jid, sessions);
}

/** §10.9: every occupant leaves with <destroy/> (alternate venue and reason); the room and its rows go. */
export async function destroyRoom(svc: MucService, room: Room, alternate?: string, reason?: string): Promise<void> {
  const d = xml('destroy', alternate ? { jid: alternate } : {});
  if (reason) d.c('reason').t(reason);
  const occupants = [...room.occupants.values()];
  for (const o of occupants) room.remove(o);
  for (const o of occupants) {
    o.payload = [];
    await broadcastPresence(svc, room, o, { type: 'unavailable', role: 'none', destroy: d });
  }
  if (svc.rooms.get(room.name) === room) svc.rooms.delete(room.name);
  await svc.store.remove(room.name);
  await removeRoomArchive(svc, room);
}
