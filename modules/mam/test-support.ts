// Helpers for the XEP-0313 tests: ping round trips, archive queries with forms and XEP-0059 sets, and
// reading the XEP-0359 <stanza-id/> a recipient got.
import assert from 'node:assert/strict';
import type { RawClient } from '../../test/support/raw-client.js';
import { parseStanza, parseStanzas } from '../../test/support/stanza-match.js';

let seq = 0;

/** Round-trip a ping; returns everything received before its answer. */
export async function sync(c: RawClient): Promise<string> {
  const id = `sync${++seq}`;
  c.send(`<iq type='get' id='${id}'><ping xmlns='urn:xmpp:ping'/></iq>`);
  return (await c.expect(new RegExp(`^([\\s\\S]*?)<iq[^>]*id=["']${id}["'][^>]*?(?:/>|>[\\s\\S]*?</iq>)`)))[1]!;
}

export interface QueryResult { before: string; fin: string; results: Array<{ id: string; xml: string }> }

/** Send a MAM query; returns the result messages (in order) that arrived before the IQ answer, and the answer. */
export async function query(c: RawClient, inner = '', to?: string): Promise<QueryResult> {
  const id = `q${++seq}`;
  c.send(`<iq type='set' id='${id}'${to ? ` to='${to}'` : ''}><query xmlns='urn:xmpp:mam:2' queryid='${id}'>${inner}</query></iq>`);
  const m = await c.expect(new RegExp(`^([\\s\\S]*?)(<iq[^>]*id=["']${id}["'][^>]*(?:/>|>[\\s\\S]*?</iq>))`));
  const results = parseStanzas(m[1]!).filter((el) => el.is('message') && el.getChild('result', 'urn:xmpp:mam:2')).map((el) => {
    const r = el.getChild('result', 'urn:xmpp:mam:2')!;
    assert.equal(r.attrs.queryid, id, 'the queryid is echoed');
    return { id: String(r.attrs.id), xml: el.toString() };
  });
  return { before: m[1]!, fin: m[2]!, results };
}

export const form = (fields: Record<string, string>) =>
  `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>${Object.entries(fields).map(([k, v]) => `<field var='${k}'><value>${v}</value></field>`).join('')}</x>`;
export const rsm = (s: string) => `<set xmlns='http://jabber.org/protocol/rsm'>${s}</set>`;
/** The body of each archived message, in order. */
export const bodies = (r: QueryResult) =>
  r.results.map((x) => parseStanza(x.xml).getChild('result')?.getChild('forwarded')?.getChild('message')?.getChildText('body') ?? undefined);

/** The ids of the XEP-0359 <stanza-id/> elements by `by` in a stanza's text. */
export function stanzaIds(stanza: string, by: string): string[] {
  return parseStanza(stanza).getChildren('stanza-id', 'urn:xmpp:sid:0').filter((el) => el.attrs.by === by).map((el) => String(el.attrs.id));
}
