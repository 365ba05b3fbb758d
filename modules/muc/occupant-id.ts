// XEP-0421 occupant ids: stable per room and real bare JID, opaque to other occupants (an HMAC of the bare
// JID under a per-room secret, so two rooms give one user unrelated ids).
import { createHmac, randomBytes } from 'node:crypto';
import { xml, type Element } from '../../src/sdk.js';
import { NS_OCCUPANT_ID } from './ns.js';

export const newRoomSecret = (): string => randomBytes(32).toString('base64');

export function occupantId(secret: string, bare: string): string {
  return createHmac('sha256', secret).update(bare).digest('base64');
}

export const occupantIdElement = (id: string): Element => xml('occupant-id', { xmlns: NS_OCCUPANT_ID, id });

/** §4: the service removes any occupant-id a client put in its stanza (it could be forged). */
export function stripOccupantId(el: Element): void {
  el.children = el.children.filter((c) => typeof c === 'string' || !(c.name === 'occupant-id' && c.attrs.xmlns === NS_OCCUPANT_ID));
}
