// XEP-0004 Data Forms as the ad-hoc commands use them: the form a command asks for (§3.1 type='form'),
// reading the requester's type='submit' answer against it (§3.2, §3.3 field types), and results (§3.4).
import { Jid, JidError, StanzaError, xml, type Element } from '../../src/sdk.js';

export const NS_DATA = 'jabber:x:data';
export const NS_COMMANDS = 'http://jabber.org/protocol/commands';

export type FieldType =
  | 'boolean' | 'fixed' | 'hidden' | 'jid-multi' | 'jid-single' | 'list-multi' | 'list-single'
  | 'text-multi' | 'text-private' | 'text-single';

export interface FieldSpec {
  var: string;
  type: FieldType;
  label?: string;
  desc?: string;
  required?: boolean;
  /** Pre-filled values. */
  values?: string[];
  /** Choices of a list-single/list-multi field. */
  options?: Array<{ value: string; label?: string }>;
}

/** XEP-0050 §4.6: <bad-request/> with an application condition in the commands namespace. */
export function commandError(condition: 'bad-request' | 'not-allowed', app: string, text?: string): StanzaError {
  return new StanzaError(condition, text, condition === 'bad-request' ? 'modify' : 'cancel', xml(app, { xmlns: NS_COMMANDS }));
}

/** The submitted data does not fit the form: XEP-0050 §4.6 <bad-payload/>. */
export const badPayload = (text: string) => commandError('bad-request', 'bad-payload', text);

export function fieldElement(f: FieldSpec): Element {
  const attrs: Record<string, string> = { var: f.var, type: f.type };
  if (f.label) attrs.label = f.label;
  const el = xml('field', attrs);
  if (f.desc) el.c('desc').t(f.desc);
  if (f.required) el.c('required');
  for (const v of f.values ?? []) el.c('value').t(v);
  for (const o of f.options ?? []) el.c('option', o.label ? { label: o.label } : {}).c('value').t(o.value);
  return el;
}

/** A form of the given type with a FORM_TYPE (XEP-0068) first, then the fields. */
export function dataForm(type: 'form' | 'result', formType: string, fields: FieldSpec[], title?: string, instructions?: string): Element {
  const x = xml('x', { xmlns: NS_DATA, type });
  if (title) x.c('title').t(title);
  if (instructions) x.c('instructions').t(instructions);
  x.cnode(fieldElement({ var: 'FORM_TYPE', type: 'hidden', values: [formType] }));
  for (const f of fields) x.cnode(fieldElement(f));
  return x;
}

/** The submitted form among a command's children (XEP-0050 §4.4.1: the requester answers with type='submit'). */
export function submittedForm(command: Element): Element | undefined {
  return command.getChildElements().find((c) => c.name === 'x' && c.attrs.xmlns === NS_DATA);
}

/** Submitted values, checked against the fields the form asked for. */
export class FormValues {
  constructor(private readonly values: Map<string, string[]>) {}

  /** The single value of a field, '' when not given. */
  one(name: string): string {
    return this.values.get(name)?.[0] ?? '';
  }

  all(name: string): string[] {
    return this.values.get(name) ?? [];
  }

  has(name: string): boolean {
    return (this.values.get(name) ?? []).some((v) => v !== '');
  }
}

const MULTI: ReadonlySet<FieldType> = new Set(['jid-multi', 'list-multi', 'text-multi']);

/**
 * Read a submitted form (XEP-0004 §3.2) against the fields asked for: required fields present, one value
 * for single-valued fields, JIDs that parse (RFC 7622), list values among the options. Anything else the
 * requester sent is ignored. Failures are <bad-payload/> (XEP-0050 §4.6).
 */
export function readSubmit(x: Element, formType: string, fields: FieldSpec[]): FormValues {
  // XEP-0050 §3.4.1 ("Use of Data Forms"): responders treat <x type='cancel'/> as a submission.
  if (x.attrs.type !== 'submit' && x.attrs.type !== 'cancel') throw badPayload(`expected a data form of type 'submit', not '${x.attrs.type ?? ''}'`);
  const given = new Map<string, string[]>();
  for (const f of x.getChildren('field')) {
    const name = f.attrs.var as string | undefined;
    if (name === undefined) continue;
    given.set(name, f.getChildren('value').map((v) => v.text()));
  }
  const ft = given.get('FORM_TYPE');
  if (ft && ft[0] !== undefined && ft[0] !== formType) throw badPayload(`this form is ${formType}, not ${ft[0]}`);
  const out = new Map<string, string[]>();
  for (const spec of fields) {
    let vals = (given.get(spec.var) ?? []).map((v) => (spec.type === 'text-private' ? v : v.trim()));
    if (spec.type === 'jid-multi' || spec.type === 'list-multi') vals = vals.filter((v) => v !== '');
    const label = spec.label ?? spec.var;
    if (spec.required && !vals.some((v) => v !== '')) throw badPayload(`"${label}" is required`);
    if (!MULTI.has(spec.type) && vals.length > 1) throw badPayload(`"${label}" takes a single value`);
    if (spec.type === 'jid-single' || spec.type === 'jid-multi') {
      for (const v of vals) {
        if (v === '') continue;
        try {
          Jid.parse(v);
        } catch (err) {
          throw badPayload(`"${v}" is not a valid JID: ${err instanceof JidError ? err.message : 'invalid'}`);
        }
      }
    }
    if ((spec.type === 'list-single' || spec.type === 'list-multi') && spec.options?.length) {
      const allowed = new Set(spec.options.map((o) => o.value));
      const bad = vals.find((v) => v !== '' && !allowed.has(v));
      if (bad !== undefined) throw badPayload(`"${bad}" is not one of the choices for "${label}"`);
    }
    if (spec.type === 'boolean' && vals[0] !== undefined && !['0', '1', 'true', 'false', ''].includes(vals[0])) {
      throw badPayload(`"${label}" must be true or false`);
    }
    out.set(spec.var, vals);
  }
  return new FormValues(out);
}

/** A plain value as field text: arrays become several values, objects one line of JSON. */
function texts(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v.flatMap((e) => (typeof e === 'object' && e !== null ? [JSON.stringify(e)] : [String(e)]));
  if (typeof v === 'object') return [JSON.stringify(v)];
  return [String(v)];
}

const cell = (v: unknown): string => texts(v).join(', ');

/**
 * An XEP-0004 result form for any command output (an object of plain values): scalars and lists become
 * fields; the first list of objects becomes the table (§3.4 <reported/> + <item/>; a form has only one).
 */
export function resultForm(formType: string, title: string, output: unknown): Element {
  const x = xml('x', { xmlns: NS_DATA, type: 'result' }, xml('title', {}, title));
  x.cnode(fieldElement({ var: 'FORM_TYPE', type: 'hidden', values: [formType] }));
  const entries = output !== null && typeof output === 'object' && !Array.isArray(output) ? Object.entries(output) : [['result', output] as const];
  let table: { rows: Array<Record<string, unknown>> } | null = null;
  for (const [key, value] of entries) {
    const rows = Array.isArray(value) && value.length > 0 && value.every((r) => r !== null && typeof r === 'object' && !Array.isArray(r));
    if (rows && !table) {
      table = { rows: value as Array<Record<string, unknown>> };
      continue;
    }
    const vals = texts(value);
    x.cnode(fieldElement({ var: key, type: Array.isArray(value) ? 'text-multi' : 'text-single', label: key, values: vals }));
  }
  if (table) {
    const columns = [...new Set(table.rows.flatMap((r) => Object.keys(r)))];
    const reported = x.c('reported');
    for (const c of columns) reported.c('field', { var: c, label: c, type: 'text-single' });
    for (const r of table.rows) {
      const item = x.c('item');
      for (const c of columns) item.c('field', { var: c }).c('value').t(cell(r[c]));
    }
  }
  return x;
}
