// A XEP-0030 disco#info <query/> read into plain data, as the capability hashes of XEP-0115 §5 and
// XEP-0390 §4 need it: identities (with xml:lang), features and XEP-0128 data forms.
import type { Element } from '../../src/sdk.js';

export const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
export const NS_DATA = 'jabber:x:data';

export interface CapsIdentity { category: string; type: string; lang?: string; name?: string }
export interface FormField { var: string; type?: string; values: string[] }
/** A XEP-0128 form; `tabular` when it holds <reported/> or <item/> (XEP-0390 §4 step 2 refuses those). */
export interface CapsForm { fields: FormField[]; tabular: boolean }

export interface DiscoData {
  identities: CapsIdentity[];
  features: string[];
  forms: CapsForm[];
  /** Children other than identities, features and data forms (XEP-0390 §4 step 1 refuses those). */
  foreign: number;
  /** The xml:lang the identities inherit from the <query/> or the <iq/> (XEP-0390 §4 general remarks). */
  inheritedLang?: string;
}

const attr = (el: Element, name: string): string | undefined => {
  const v = el.attrs[name];
  return typeof v === 'string' ? v : undefined;
};

export function parseDiscoInfo(query: Element, iq?: Element): DiscoData {
  const data: DiscoData = { identities: [], features: [], forms: [], foreign: 0 };
  const inherited = attr(query, 'xml:lang') ?? (iq ? attr(iq, 'xml:lang') : undefined);
  if (inherited !== undefined) data.inheritedLang = inherited;
  for (const child of query.getChildElements()) {
    const ns = child.getNS();
    if (ns === NS_DISCO_INFO && child.name === 'identity') {
      const id: CapsIdentity = { category: attr(child, 'category') ?? '', type: attr(child, 'type') ?? '' };
      const lang = attr(child, 'xml:lang');
      const name = attr(child, 'name');
      if (lang !== undefined) id.lang = lang;
      if (name !== undefined) id.name = name;
      data.identities.push(id);
    } else if (ns === NS_DISCO_INFO && child.name === 'feature') {
      data.features.push(attr(child, 'var') ?? '');
    } else if (ns === NS_DATA && child.name === 'x') {
      data.forms.push(parseForm(child));
    } else {
      data.foreign++;
    }
  }
  return data;
}

/** A jabber:x:data form's fields (XEP-0004), and whether it is tabular. */
export function parseForm(x: Element): CapsForm {
  const fields: FormField[] = [];
  let tabular = false;
  for (const c of x.getChildElements()) {
    if (c.name === 'reported' || c.name === 'item') tabular = true;
    if (c.name !== 'field') continue;
    const f: FormField = { var: attr(c, 'var') ?? '', values: c.getChildren('value').map((v) => v.getText()) };
    const type = attr(c, 'type');
    if (type !== undefined) f.type = type;
    fields.push(f);
  }
  return { fields, tabular };
}

/**
 * The client's name from its disco#info identities (XEP-0030 category "client", e.g. "Gajim"): an untagged or
 * English one first. Shown by `xmppd sessions`.
 */
export function clientName(identities: CapsIdentity[]): string | undefined {
  const named = identities.filter((i) => i.category === 'client' && i.name);
  return (named.find((i) => i.lang === undefined || /^en\b/i.test(i.lang)) ?? named[0])?.name;
}

/** The XEP-0068 FORM_TYPE field of a form, if it has one. */
export const formTypeField = (form: CapsForm): FormField | undefined => form.fields.find((f) => f.var === 'FORM_TYPE');
