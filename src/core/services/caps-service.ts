// The contract of the 'caps' service: what each online client supports, from XEP-0115 entity capabilities
// (and XEP-0390) with verified hashes. Used by PEP for "+notify" filtering (XEP-0163 §4.3).
import type { Jid } from '../jid.js';
import { serviceKey } from './service-key.js';

export interface CapsApi {
  /** The disco#info features of a full JID's client from its verified caps, or undefined while unknown. */
  featuresOf(full: Jid): ReadonlySet<string> | undefined;
  /** The name of the full JID's client from its disco#info identity (e.g. "Gajim"), once known. */
  clientOf?(full: Jid): string | undefined;
  /** Whether the full JID's client asked for notifications of `node` ("<node>+notify" among its features). */
  wantsNotify(full: Jid, node: string): boolean;
  /**
   * featuresOf, reading the shared cache when this node has not met the client's verified hash yet (a client
   * on another cluster node: its own node verified it, the replicated cache has it).
   */
  load(full: Jid): Promise<ReadonlySet<string> | undefined>;
}

/** `ctx.service(CAPS_SERVICE)` is a CapsApi while the caps module runs on the host. */
export const CAPS_SERVICE = serviceKey<CapsApi>('caps');
