// XEP-0313 §4 querying: the XEP-0004 filter form (with/start/end), the result messages carrying
// XEP-0297 forwarded originals with XEP-0203 delay stamps, then the <fin/> with the XEP-0059 set.
import { xml, Jid, StanzaError, parseXml, type Element, type IqRequest, type ModuleContext, type Row } from '../../src/sdk.js';
import { MAM_TABLE, matching, archivePrefix, type ArchivedMessage, type Filter } from './archive.js';
import { keyPage } from './key-page.js';
import { page, parseRsm, rsmSet, type Page } from './rsm.js';

export const NS_MAM = 'urn:xmpp:mam:2';
const NS_DATA = 'jabber:x:data';
const NS_FORWARD = 'urn:xmpp:forward:0';
const NS_DELAY = 'urn:xmpp:delay';

/** §4.1.1: the form a client fills in (answered to an IQ get). */
export function queryForm(): Element {
  return xml('query', { xmlns: NS_MAM },
    xml('x', { xmlns: NS_DATA, type: 'form' },
      xml('field', { type: 'hidden', var: 'FORM_TYPE' }, xml('value', {}, NS_MAM)),
      xml('field', { type: 'jid-single', var: 'with' }),
      xml('field', { type: 'text-single', var: 'start' }),
      xml('field', { type: 'text-single', var: 'end' })));
}

/** XEP-0082 DateTime → ms; bad-request when it is not one. */
function timestamp(v: string, name: string): number {
  const ok = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(v);
  const ms = ok ? Date.parse(v) : NaN;
  if (Number.isNaN(ms)) throw new StanzaError('bad-request', `${name} must be an XEP-0082 DateTime`);
  return ms;
}

export function parseFilter(query: Element): Filter {
  const x = query.getChild('x', NS_DATA);
  if (!x) return {};
  const f: Filter = {};
  for (const field of x.getChildren('field')) {
    const name = field.attrs.var as string | undefined;
    const value = field.getChildText('value') ?? '';
    if (name === 'FORM_TYPE') {
      if (value !== NS_MAM) throw new StanzaError('bad-request', `FORM_TYPE must be ${NS_MAM}`);
    } else if (name === 'with') {
      const j = Jid.tryParse(value);
      if (!j) throw new StanzaError('jid-malformed', 'with is not a valid JID');
      f.with = j;
    } else if (name === 'start') f.start = timestamp(value, 'start');
    else if (name === 'end') f.end = timestamp(value, 'end');
    else if (name !== undefined && value !== '') throw new StanzaError('feature-not-implemented', `the field ${name} is not supported`);
  }
  return f;
}

/** §4: answer a query on the requester's own archive (addressed to it, or `owner` when sent to the
 *  server); result messages are written before the fin. */
export async function runQuery(ctx: ModuleContext<{ max_results: number }>, req: IqRequest, owner: Jid = req.to.bare()): Promise<Element> {
  if (!req.from.bare().equals(owner)) throw new StanzaError('forbidden', 'you may only query your own archive');
  return answerQuery(ctx, owner, req.from, req.payload, (el) => (req.session ? req.session.send(el) : ctx.send(el, owner, req.from)));
}

/**
 * §4: answer `q` from `owner`'s archive (an account's, or a room's: §5) to `requester`, whom the caller has
 * allowed. Each result message goes through `send` (awaited, so all are handed on before the fin is
 * answered), from the archive's owner; resolves with the <fin/>.
 */
export async function answerQuery(ctx: ModuleContext<{ max_results: number }>, owner: Jid, requester: Jid, q: Element, send: (el: Element) => unknown): Promise<Element> {
  const filter = parseFilter(q);
  const rsm = parseRsm(q, ctx.options.max_results);
  let p: Page<Row<ArchivedMessage>>;
  let count: number;
  if (filter.with) {
    const all = await matching(ctx, owner, filter);
    p = page(all, (r) => r.value.id, rsm);
    count = all.length;
  } else {
    ({ count, ...p } = await keyPage(ctx.table<ArchivedMessage>(MAM_TABLE), archivePrefix(owner), filter, rsm));
  }
  const queryid = q.attrs.queryid as string | undefined;
  for (const row of p.items) {
    let original: Element;
    try {
      original = parseXml(row.value.xml);
    } catch (err) {
      ctx.log.error('skipping an unreadable archived message', { err, key: row.key });
      continue;
    }
    original.attrs.xmlns = 'jabber:client'; // XEP-0297: the forwarded stanza keeps its namespace
    await send(xml('message', { to: requester.toString(), from: owner.toString(), id: `${queryid ?? 'mam'}-${row.value.id}` },
      xml('result', { xmlns: NS_MAM, ...(queryid !== undefined && { queryid }), id: row.value.id },
        xml('forwarded', { xmlns: NS_FORWARD },
          xml('delay', { xmlns: NS_DELAY, stamp: row.value.stamp }),
          original))));
  }
  const first = p.items[0]?.value.id;
  const last = p.items.at(-1)?.value.id;
  return xml('fin', { xmlns: NS_MAM, ...(queryid !== undefined && { queryid }), complete: String(p.complete) },
    rsmSet(first, last, p.index, count));
}
