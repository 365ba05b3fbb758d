// XEP-0059 paging of one archive by key range, for XEP-0313 queries without a `with` filter: reads only
// the rows of the page and counts keys, rather than loading the whole archive to slice it.
import { StanzaError, type Row, type Table } from '../../src/sdk.js';
import { msPrefix, type ArchivedMessage, type Filter } from './archive.js';
import type { Page, RsmRequest } from './rsm.js';

/** The shape of an archive id (archive.ts IdClock): anything else cannot be in the archive. */
const ID = /^\d{15}-\d{4}$/;

export async function keyPage(table: Table<ArchivedMessage>, prefix: string, f: Filter, r: RsmRequest): Promise<Page<Row<ArchivedMessage>> & { count: number }> {
  const lo = prefix + (f.start !== undefined ? msPrefix(f.start) : '');
  const hi = f.end !== undefined ? prefix + msPrefix(f.end + 1) : prefix + '\uffff';
  /** The key of a paging anchor, which must be a message of this result set. */
  const anchor = async (id: string): Promise<string> => {
    const key = prefix + id;
    if (!ID.test(id) || key < lo || key >= hi || !(await table.get(key))) throw new StanzaError('item-not-found', `no message with id ${id} in this result set`);
    return key;
  };
  if (r.before !== undefined) {
    // Paging backwards: the `max` items just before `before` (or the last ones when empty).
    const end = r.before === '' ? hi : await anchor(r.before);
    if (r.after !== undefined) throw new StanzaError('bad-request', '<after/> and <before/> together are not supported');
    const items = r.max === 0 ? [] : (await table.range({ gte: lo, lt: end, reverse: true, limit: r.max })).reverse();
    // Each key of the result set is counted once: those before the anchor, then those from it on.
    const beforeEnd = await table.count({ gte: lo, lt: end });
    const count = end === hi ? beforeEnd : beforeEnd + (await table.count({ gte: end, lt: hi }));
    const index = Math.max(0, beforeEnd - items.length);
    return { items, index, complete: index === 0, count };
  }
  const from = r.after === undefined ? lo : (await anchor(r.after)) + '\u0000';
  const items = r.max === 0 ? [] : await table.range({ gte: from, lt: hi, limit: r.max });
  const index = r.after === undefined ? 0 : await table.count({ gte: lo, lt: from });
  const count = index + (await table.count({ gte: from, lt: hi }));
  return { items, index, complete: index + items.length === count, count };
}
