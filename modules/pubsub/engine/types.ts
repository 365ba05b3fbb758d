// XEP-0060 Publish-Subscribe data model shared by the pep (XEP-0163) and pubsub modules: namespaces, node
// configuration (§16.4.4 pubsub#node_config), affiliations (§4.1) and the stored rows.
import type { ElementJson } from '../../../src/sdk.js';

export const NS_PUBSUB = 'http://jabber.org/protocol/pubsub';
export const NS_OWNER = `${NS_PUBSUB}#owner`;
export const NS_EVENT = `${NS_PUBSUB}#event`;
export const NS_ERRORS = `${NS_PUBSUB}#errors`;
export const NS_NODE_CONFIG = `${NS_PUBSUB}#node_config`;
export const NS_PUBLISH_OPTIONS = `${NS_PUBSUB}#publish-options`;
export const NS_META_DATA = `${NS_PUBSUB}#meta-data`;
export const NS_DATA = 'jabber:x:data';

/** §4.1 affiliations ('publish-only' included: it may publish and retract, nothing else). */
export const AFFILIATIONS = ['owner', 'publisher', 'publish-only', 'member', 'none', 'outcast'] as const;
export type Affiliation = (typeof AFFILIATIONS)[number];

export const ACCESS_MODELS = ['open', 'presence', 'roster', 'whitelist'] as const;
export type AccessModel = (typeof ACCESS_MODELS)[number];
export const PUBLISH_MODELS = ['publishers', 'subscribers', 'open'] as const;
export type PublishModel = (typeof PUBLISH_MODELS)[number];
export const SEND_LAST = ['never', 'on_sub', 'on_sub_and_presence'] as const;
export type SendLast = (typeof SEND_LAST)[number];
export const NOTIFICATION_TYPES = ['headline', 'normal'] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

export interface NodeConfig {
  title: string;
  access_model: AccessModel;
  /** Roster groups whose members may access a 'roster' node. */
  roster_groups_allowed: string[];
  publish_model: PublishModel;
  max_items: number;
  persist_items: boolean;
  notify_retract: boolean;
  notify_delete: boolean;
  notify_config: boolean;
  deliver_payloads: boolean;
  deliver_notifications: boolean;
  send_last_published_item: SendLast;
  notification_type: NotificationType;
  /** pubsub#type: the payload namespace, informational. */
  type: string;
}

/** One node: its configuration, affiliations and subscriptions (by JID string), and its item sequence. */
export interface NodeRow {
  config: NodeConfig;
  affiliations: Record<string, Affiliation>;
  /** Subscribed JID (bare or full) -> subid. One subscription per JID (subids are optional, §6.1.6). */
  subscriptions: Record<string, string>;
  /** Increments with every published item: orders items newest first across processes. */
  seq: number;
  created: string;
}

export interface ItemRow {
  id: string;
  /** The item's payload element; null for a notification-only item. */
  payload: ElementJson | null;
  publisher: string;
  /** ISO 8601. */
  published: string;
  seq: number;
}
