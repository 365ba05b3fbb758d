// Node configuration as XEP-0004 data forms (XEP-0060 §8.2 configure, §8.3 default, §16.4.4 field vars) and
// XEP-0060 §7.1.5 publish-options preconditions, for both modules.
import { xml, StanzaError, type Element } from '../../../src/sdk.js';
import { pubsubError } from './errors.js';
import { ACCESS_MODELS, NOTIFICATION_TYPES, NS_DATA, NS_NODE_CONFIG, PUBLISH_MODELS, SEND_LAST, type NodeConfig } from './types.js';

/** Field values by var, FORM_TYPE left out. */
export type FormValues = Record<string, string[]>;

type Kind = 'text' | 'bool' | 'list' | 'multi' | 'max';
interface FieldDef { key: keyof NodeConfig; kind: Kind; label: string; options?: readonly string[] }

const FIELDS: Record<string, FieldDef> = {
  'pubsub#title': { key: 'title', kind: 'text', label: 'A friendly name for the node' },
  'pubsub#access_model': { key: 'access_model', kind: 'list', label: 'Who may subscribe and retrieve items', options: ACCESS_MODELS },
  'pubsub#roster_groups_allowed': { key: 'roster_groups_allowed', kind: 'multi', label: 'Roster groups allowed to subscribe' },
  'pubsub#publish_model': { key: 'publish_model', kind: 'list', label: 'Who may publish', options: PUBLISH_MODELS },
  'pubsub#max_items': { key: 'max_items', kind: 'max', label: 'Max number of items to persist' },
  'pubsub#persist_items': { key: 'persist_items', kind: 'bool', label: 'Persist items to storage' },
  'pubsub#notify_retract': { key: 'notify_retract', kind: 'bool', label: 'Notify subscribers when items are removed' },
  'pubsub#notify_delete': { key: 'notify_delete', kind: 'bool', label: 'Notify subscribers when the node is deleted' },
  'pubsub#notify_config': { key: 'notify_config', kind: 'bool', label: 'Notify subscribers when the configuration changes' },
  'pubsub#deliver_payloads': { key: 'deliver_payloads', kind: 'bool', label: 'Deliver payloads with event notifications' },
  'pubsub#deliver_notifications': { key: 'deliver_notifications', kind: 'bool', label: 'Deliver event notifications' },
  'pubsub#send_last_published_item': { key: 'send_last_published_item', kind: 'list', label: 'When to send the last published item', options: SEND_LAST },
  'pubsub#notification_type': { key: 'notification_type', kind: 'list', label: 'Message type of event notifications', options: NOTIFICATION_TYPES },
  'pubsub#type': { key: 'type', kind: 'text', label: 'Payload type' },
};

/** The field values of a submitted form (<x xmlns='jabber:x:data'/>); type='cancel' gives null. */
export function formValues(x: Element): FormValues | null {
  if (x.attrs.type === 'cancel') return null;
  const out: FormValues = {};
  for (const f of x.getChildren('field')) {
    const v = f.attrs.var as string | undefined;
    if (!v || v === 'FORM_TYPE') continue;
    out[v] = f.getChildren('value').map((e) => e.getText());
  }
  return out;
}

/** The FORM_TYPE of a form, if given. */
export const formType = (x: Element): string | undefined =>
  x.getChildren('field').find((f) => f.attrs.var === 'FORM_TYPE')?.getChildText('value') ?? undefined;

const parseBool = (v: string | undefined): boolean | undefined => (v === '1' || v === 'true' ? true : v === '0' || v === 'false' ? false : undefined);

/** One field's value as the configuration stores it, or undefined when it is not valid. */
function parseField(def: FieldDef, values: string[], maxItemsLimit: number): unknown {
  const v = values[0];
  switch (def.kind) {
    case 'text': return v ?? '';
    case 'bool': return parseBool(v);
    case 'list': return v !== undefined && def.options!.includes(v) ? v : undefined;
    case 'multi': return [...values];
    case 'max': {
      if (v === 'max') return maxItemsLimit;
      if (v === undefined || !/^\d+$/.test(v)) return undefined;
      const n = Number(v);
      return n >= 1 && n <= maxItemsLimit ? n : undefined;
    }
  }
}

/**
 * `base` with the submitted fields applied (XEP-0060 §8.2.4). A bad value is not-acceptable (§8.2.5.3);
 * fields this service does not know are ignored, as the form it sends out does not offer them.
 */
export function applyConfig(base: NodeConfig, values: FormValues, maxItemsLimit: number): NodeConfig {
  const next: NodeConfig = { ...base, roster_groups_allowed: [...base.roster_groups_allowed] };
  for (const [name, vals] of Object.entries(values)) {
    const def = FIELDS[name];
    if (!def) continue;
    const parsed = parseField(def, vals, maxItemsLimit);
    if (parsed === undefined) throw new StanzaError('not-acceptable', `${name}: "${vals.join(', ')}" is not an accepted value${def.options ? ` (one of ${def.options.join(', ')})` : def.kind === 'max' ? ` (1 to ${maxItemsLimit}, or max)` : ''}`);
    (next as unknown as Record<string, unknown>)[def.key] = parsed;
  }
  return next;
}

/**
 * XEP-0060 §7.1.5: publish-options are preconditions on an existing node; any field that differs from the
 * node's configuration (or that the service does not know) fails with conflict + precondition-not-met.
 */
export function checkPreconditions(config: NodeConfig, values: FormValues, maxItemsLimit: number): void {
  for (const [name, vals] of Object.entries(values)) {
    const def = FIELDS[name];
    const parsed = def ? parseField(def, vals, maxItemsLimit) : undefined;
    const current = def ? config[def.key] : undefined;
    const same = Array.isArray(parsed) && Array.isArray(current)
      ? parsed.length === current.length && parsed.every((g, i) => g === current[i])
      : parsed !== undefined && parsed === current;
    if (!same) throw pubsubError('conflict', 'precondition-not-met', { text: `the node's ${name} does not match the publish-options` });
  }
}

/** The node configuration as a form (§8.2.1 type='form', or §16.4.4 values in a 'result'). */
export function configForm(config: NodeConfig, type: 'form' | 'result' = 'form'): Element {
  const x = xml('x', { xmlns: NS_DATA, type });
  x.c('field', { var: 'FORM_TYPE', type: 'hidden' }).c('value').t(NS_NODE_CONFIG);
  for (const [name, def] of Object.entries(FIELDS)) {
    const value = config[def.key];
    const ftype = def.kind === 'bool' ? 'boolean' : def.kind === 'list' ? 'list-single' : def.kind === 'multi' ? 'list-multi' : 'text-single';
    const f = x.c('field', { var: name, type: ftype, label: def.label });
    for (const o of def.options ?? []) f.c('option').c('value').t(o);
    if (Array.isArray(value)) for (const v of value) f.c('value').t(v);
    else f.c('value').t(typeof value === 'boolean' ? (value ? '1' : '0') : String(value));
  }
  return x;
}

/** A flat record (as PepApi callers pass publish-options) as form values. */
export function recordValues(opts: Record<string, string | string[]>): FormValues {
  return Object.fromEntries(Object.entries(opts).filter(([k]) => k !== 'FORM_TYPE').map(([k, v]) => [k, Array.isArray(v) ? v : [v]]));
}
