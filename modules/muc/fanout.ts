// Fan-out to occupants (XEP-0045 broadcasts): each stanza is built once per change, and each recipient gets
// a shallow copy that shares the children and differs only in 'to'. Deliveries of one broadcast run
// together; a room handles one stanza at a time, so every occupant sees a room's stanzas in order.
import { xml, type Element, type Jid } from '../../src/sdk.js';

/** A copy of `el` addressed to `to`: own attributes and child list, children shared (never mutated). */
export function stamp(el: Element, to: string): Element {
  const copy = xml(el.name, { ...el.attrs, to });
  copy.children = el.children.slice();
  return copy;
}

export type Route = (el: Element, from: Jid, to: Jid) => Promise<void>;

/** Send `el` (from `from`) to every recipient at once; resolves when all were handed on. */
export function fanout(route: Route, el: Element, from: Jid, recipients: Iterable<Jid>): Promise<void> {
  const sends: Promise<void>[] = [];
  for (const to of recipients) sends.push(route(stamp(el, to.toString()), from, to));
  return Promise.all(sends).then(() => undefined);
}
