// XEP-0059 Result Set Management for XEP-0313 queries (§4.3): max, after, before (empty = last page).
import { xml, StanzaError, type Element } from '../../src/sdk.js';

export const NS_RSM = 'http://jabber.org/protocol/rsm';

export interface RsmRequest { max: number; after?: string; before?: string }

export function parseRsm(query: Element, cap: number): RsmRequest {
  const set = query.getChild('set', NS_RSM);
  let max = cap;
  const m = set?.getChildText('max');
  if (m !== undefined && m !== null) {
    if (!/^\d+$/.test(m.trim())) throw new StanzaError('bad-request', '<max/> must be a non-negative integer');
    max = Math.min(cap, Number(m.trim()));
  }
  const after = set?.getChild('after');
  const before = set?.getChild('before');
  return { max, ...(after && { after: after.text() }), ...(before && { before: before.text() }) };
}

export interface Page<T> { items: T[]; index: number; complete: boolean }

/** One page of `all` (ordered by id ascending); `complete` when it reaches the end in the paging direction. */
export function page<T extends { key: string }>(all: T[], idOf: (t: T) => string, r: RsmRequest): Page<T> {
  if (r.before !== undefined) {
    // Paging backwards: the `max` items just before `before` (or the last ones when empty).
    let end = all.length;
    if (r.before !== '') {
      end = all.findIndex((t) => idOf(t) === r.before);
      if (end < 0) throw new StanzaError('item-not-found', `no message with id ${r.before} in this result set`);
    }
    if (r.after !== undefined) throw new StanzaError('bad-request', '<after/> and <before/> together are not supported');
    const start = Math.max(0, end - r.max);
    return { items: all.slice(start, end), index: start, complete: start === 0 };
  }
  let start = 0;
  if (r.after !== undefined) {
    const i = all.findIndex((t) => idOf(t) === r.after);
    if (i < 0) throw new StanzaError('item-not-found', `no message with id ${r.after} in this result set`);
    start = i + 1;
  }
  const end = Math.min(all.length, start + r.max);
  return { items: all.slice(start, end), index: start, complete: end === all.length };
}

/** The <set/> of the answer: first (with index), last, count. */
export function rsmSet(first: string | undefined, last: string | undefined, index: number, count: number): Element {
  const set = xml('set', { xmlns: NS_RSM });
  if (first !== undefined && last !== undefined) {
    set.c('first', { index: String(index) }).t(first);
    set.c('last').t(last);
  }
  set.c('count').t(String(count));
  return set;
}
