// XEP-0060 §4 access decisions: what a service scope provides, affiliations (§4.1), the access models
// (§4.5: open, presence, roster, whitelist) with the errors of §6.1.3 / §6.5.9, and the publish models.
import { Jid, StanzaError } from '../../../src/sdk.js';
import { pubsubError } from './errors.js';
import type { Affiliation, NodeConfig, NodeRow } from './types.js';

export interface ServiceScope {
  /** The service's key prefix and address: an account's bare JID (PEP) or a service domain. */
  readonly service: string;
  /** Whether `actor` owns every node of the service (the PEP account itself; a pubsub admin). */
  isServiceOwner(actor: Jid): boolean;
  /** Whether `actor` may create nodes here (explicitly or by publishing to a missing node). */
  mayCreate(actor: Jid): boolean;
  /** Publishing to a missing node creates it (XEP-0163 §3, pubsub#auto-create). */
  readonly autoCreate: boolean;
  /** Instant nodes (§8.1.2, a create without a node name). */
  readonly instantNodes: boolean;
  /** The configuration of a new node (§8.3 defaults). */
  defaults(): NodeConfig;
  /**
   * Whether `actor` (bare) is a contact of one of `owners`: with a subscription from/both (the presence
   * access model, `groups` null) or in one of `groups` (the roster access model).
   */
  inRoster(owners: string[], actor: Jid, groups: string[] | null): Promise<boolean>;
}

/** `actor`'s affiliation with a node: bare JID affiliations (§4.1), owners of the service are owners. */
export function affiliationOf(scope: ServiceScope, row: NodeRow, actor: Jid): Affiliation {
  if (scope.isServiceOwner(actor)) return 'owner';
  return row.affiliations[actor.bareString()] ?? 'none';
}

const ownersOf = (row: NodeRow): string[] => Object.entries(row.affiliations).filter(([, a]) => a === 'owner').map(([j]) => j);

/**
 * Throws the §6.1.3 / §6.5.9 error when `actor` may not see a node's items or subscribe: outcasts are
 * forbidden; presence -> not-authorized + presence-subscription-required; roster -> not-authorized +
 * not-in-roster-group; whitelist -> not-allowed + closed-node.
 */
export async function checkAccess(scope: ServiceScope, row: NodeRow, actor: Jid): Promise<void> {
  const aff = affiliationOf(scope, row, actor);
  if (aff === 'outcast') throw new StanzaError('forbidden', 'you are banned from this node');
  if (aff === 'owner' || aff === 'publisher' || aff === 'member') return;
  const c = row.config;
  switch (c.access_model) {
    case 'open': return;
    case 'presence':
      if (await scope.inRoster(ownersOf(row), actor.bare(), null)) return;
      throw pubsubError('not-authorized', 'presence-subscription-required');
    case 'roster':
      if (await scope.inRoster(ownersOf(row), actor.bare(), c.roster_groups_allowed)) return;
      throw pubsubError('not-authorized', 'not-in-roster-group');
    case 'whitelist':
      throw pubsubError('not-allowed', 'closed-node');
  }
}

/** §4.1 publishers and publish-only may publish; pubsub#publish_model opens it to subscribers or anyone. */
export function mayPublish(scope: ServiceScope, row: NodeRow, actor: Jid): boolean {
  const aff = affiliationOf(scope, row, actor);
  if (aff === 'owner' || aff === 'publisher' || aff === 'publish-only') return true;
  if (aff === 'outcast') return false;
  if (row.config.publish_model === 'open') return true;
  if (row.config.publish_model === 'subscribers') return Object.keys(row.subscriptions).some((j) => Jid.tryParse(j)?.bare().equals(actor.bare()));
  return false;
}
