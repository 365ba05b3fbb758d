// XEP-0060 §7.1.2.1, §7.2.2.1, §8.2.5, §8.4.2, §8.5.2 event notifications: the <event/> of a message sent
// from the service to a subscriber (or, for PEP, to the owner's contacts).
import { randomBytes } from 'node:crypto';
import { elementFromJson, xml, type Element } from '../../../src/sdk.js';
import { NS_EVENT } from './types.js';
import type { ItemRow, NodeRow } from './types.js';

export type EventKind =
  | { type: 'items'; items: ItemRow[] }
  | { type: 'retract'; ids: string[] }
  | { type: 'purge' }
  | { type: 'delete' }
  | { type: 'config' };

/** The <item/> of a notification or of an items result, with its payload when wanted. */
export function itemElement(item: ItemRow, withPayload = true, publisher = false): Element {
  const el = xml('item', { id: item.id, ...(publisher ? { publisher: item.publisher } : {}) });
  if (withPayload && item.payload) el.cnode(elementFromJson(item.payload));
  return el;
}

/** The <event/> element for `kind` on `node`. */
export function eventElement(node: string, row: NodeRow, kind: EventKind): Element {
  const ev = xml('event', { xmlns: NS_EVENT });
  switch (kind.type) {
    case 'items': {
      const items = ev.c('items', { node });
      for (const it of kind.items) items.cnode(itemElement(it, row.config.deliver_payloads));
      break;
    }
    case 'retract': {
      const items = ev.c('items', { node });
      for (const id of kind.ids) items.c('retract', { id });
      break;
    }
    case 'purge': ev.c('purge', { node }); break;
    case 'delete': ev.c('delete', { node }); break;
    case 'config': ev.c('configuration', { node }); break;
  }
  return ev;
}

/** Whether the node's configuration asks for notifications of this kind at all. */
export function wantsEvent(row: NodeRow, kind: EventKind): boolean {
  const c = row.config;
  if (!c.deliver_notifications) return false;
  switch (kind.type) {
    case 'items': return true;
    case 'retract': return c.notify_retract;
    case 'purge': return c.notify_retract;
    case 'delete': return c.notify_delete;
    case 'config': return c.notify_config;
  }
}

/** The message carrying an event (pubsub#notification_type: headline or normal). */
export function eventMessage(row: NodeRow, event: Element, from: string, to: string): Element {
  return xml('message', { from, to, type: row.config.notification_type, id: `ps-${randomBytes(6).toString('hex')}` }, event);
}
