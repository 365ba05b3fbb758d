// XEP-0060 §10 / XEP-0163 §8 disco#info features of a pubsub service, and a node's disco#info (§5.3).
import { xml, type Element } from '../../../src/sdk.js';
import { configForm } from './config-form.js';
import { NS_META_DATA, NS_PUBSUB, type NodeRow } from './types.js';

const FEATURES = [
  'access-open', 'access-presence', 'access-roster', 'access-whitelist', 'auto-create', 'auto-subscribe', 'config-node',
  'create-and-configure', 'create-nodes', 'delete-items', 'delete-nodes', 'filtered-notifications', 'get-pending',
  'item-ids', 'last-published', 'manage-affiliations', 'manage-subscriptions', 'member-affiliation', 'modify-affiliations',
  'multi-items', 'outcast-affiliation', 'owner', 'persistent-items', 'presence-notifications', 'publish', 'publish-options',
  'publisher-affiliation', 'purge-nodes', 'retract-items', 'retrieve-affiliations', 'retrieve-default', 'retrieve-items',
  'retrieve-subscriptions', 'subscribe', 'instant-nodes',
] as const;

/** The features of a service; PEP has no instant nodes (names matter there), pubsub has no auto-subscribe. */
export function serviceFeatures(kind: 'pep' | 'pubsub'): string[] {
  const skip = kind === 'pep' ? new Set(['instant-nodes', 'get-pending']) : new Set(['auto-subscribe', 'presence-notifications', 'filtered-notifications', 'get-pending']);
  return [NS_PUBSUB, ...FEATURES.filter((f) => !skip.has(f)).map((f) => `${NS_PUBSUB}#${f}`)];
}

/** A node's §5.3 meta-data form (pubsub#meta-data) for its disco#info. */
export function nodeMetaData(row: NodeRow): Element {
  const x = configForm(row.config, 'result');
  const ft = x.getChildren('field').find((f) => f.attrs.var === 'FORM_TYPE');
  ft?.getChild('value')?.children.splice(0, 1, NS_META_DATA);
  const owners = Object.entries(row.affiliations).filter(([, a]) => a === 'owner').map(([j]) => j);
  const f = x.c('field', { var: 'pubsub#owner', type: 'jid-multi' });
  for (const o of owners) f.c('value').t(o);
  x.c('field', { var: 'pubsub#creation_date', type: 'text-single' }).c('value').t(row.created);
  return xml('x', x.attrs, ...x.getChildElements());
}
