// The configuration of a new PEP node (XEP-0163 §4: presence access, the last item on presence, headline
// notifications), from the pep module's options; shared by the module and its XEP-0227 import.
import type { NodeConfig } from './engine/types.js';

export interface PepDefaultsOptions { default_access_model: NodeConfig['access_model']; default_max_items: number; max_items: number }

export const pepDefaults = (o: PepDefaultsOptions): NodeConfig => ({
  title: '', access_model: o.default_access_model, roster_groups_allowed: [], publish_model: 'publishers',
  max_items: Math.min(o.default_max_items, o.max_items), persist_items: true, notify_retract: true, notify_delete: true,
  notify_config: false, deliver_payloads: true, deliver_notifications: true, send_last_published_item: 'on_sub_and_presence',
  notification_type: 'headline', type: '',
});
