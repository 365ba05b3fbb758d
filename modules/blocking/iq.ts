// XEP-0191 §3.2-§3.5: the account's <blocklist/> get, <block/> and <unblock/> sets, and the pushes to
// every resource of the user that requested the block list in its session.
import { Jid, StanzaError, xml, type Element, type IqRequest, type ModuleContext, type Session } from '../../src/sdk.js';
import { EMPTY } from './match.js';
import type { BlockLists } from './store.js';
import type { Enforcer } from './enforce.js';
import type { PresenceEffects } from './presence.js';

export const NS_BLOCKING = 'urn:xmpp:blocking';

export interface IqDeps {
  ctx: ModuleContext<any>;
  lists: BlockLists;
  enforcer: Enforcer;
  presence: PresenceEffects;
  /** Sessions that requested the block list (§3.3: pushes go to these only). */
  interested: WeakSet<Session>;
  maxItems: number;
}

export function blockingIq(d: IqDeps): (req: IqRequest) => Promise<Element | null> {
  let pushes = 0;
  const pushId = () => `blocking-push-${(++pushes).toString(36)}`;

  /** §3.3/§3.4/§3.5: an IQ-set carrying `payload()` to each interested resource of the account. */
  const push = (owner: Jid, payload: () => Element) => {
    for (const s of d.ctx.sessionsOf(owner.bare())) {
      if (!d.interested.has(s)) continue;
      const iq = xml('iq', { type: 'set', id: pushId(), from: owner.bareString(), to: s.jid.toString() }, payload());
      d.enforcer.send(iq, owner.bare(), s.jid);
    }
  };
  const itemsElement = (name: 'block' | 'unblock' | 'blocklist', jids: Iterable<string>) =>
    xml(name, { xmlns: NS_BLOCKING }, ...[...jids].map((jid) => xml('item', { jid })));

  return async (req) => {
    const owner = req.from.bare();
    // The block list is the account's own business (as ejabberd: others get forbidden).
    if (!owner.equals(req.to.bare())) throw new StanzaError('forbidden', 'only the account itself can read or change its block list');
    const name = req.payload.getName();
    if (req.type === 'get') {
      if (name !== 'blocklist') throw new StanzaError('bad-request', `<${name}/> is an IQ-set; <blocklist/> is the only get`);
      // §3.2: a session that asked for the list gets pushes from now on.
      if (req.session && req.session.jid.equals(req.from)) d.interested.add(req.session);
      return itemsElement('blocklist', [...(await d.lists.get(owner))].sort());
    }
    if (name === 'block') {
      const items = parseItems(req.payload);
      // §3.3: "If the <block/> element does not contain at least one <item/> child element, the server MUST return a bad-request error".
      if (!items.length) throw new StanzaError('bad-request', '<block/> needs at least one <item/>');
      const before = await d.lists.snapshot(owner);
      const added = items.filter((j) => !before.has(j.toString()));
      if (before.size + added.length > d.maxItems) {
        throw new StanzaError('policy-violation', `a block list holds at most ${d.maxItems} JIDs`);
      }
      if (added.length) await d.ctx.store.transact(d.lists.putOps(owner, added.map(String))); // written before the result
      push(owner, () => itemsElement('block', items.map(String)));
      await sideEffect(d, () => d.presence.blocked(owner, added, before));
      return null;
    }
    if (name === 'unblock') {
      const items = parseItems(req.payload);
      const before = await d.lists.snapshot(owner);
      let removed: string[];
      let after: Set<string>;
      if (!items.length) {
        // §3.5: an empty <unblock/> unblocks every JID.
        removed = [...before];
        after = new Set();
        await d.ctx.store.transact([d.lists.clearOp(owner)]);
      } else {
        removed = items.map(String).filter((j) => before.has(j));
        after = new Set(before);
        for (const j of removed) after.delete(j);
        if (removed.length) await d.ctx.store.transact(d.lists.delOps(owner, removed));
      }
      push(owner, () => itemsElement('unblock', items.map(String)));
      await sideEffect(d, () => d.presence.unblocked(owner, removed.map((j) => Jid.parse(j)), after.size ? after : EMPTY));
      return null;
    }
    throw new StanzaError('bad-request', `<${name}/> is not a blocking command (block, unblock)`);
  };
}

/** Presence side effects follow the committed change; their failure must not turn it into an error. */
async function sideEffect(d: IqDeps, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    d.ctx.log.warn('blocking: presence update after a block list change failed', { err });
  }
}

/** The <item jid='...'/> children, canonical and deduplicated; bad-request / jid-malformed otherwise. */
export function parseItems(payload: Element): Jid[] {
  const out = new Map<string, Jid>();
  for (const child of payload.getChildElements()) {
    if (child.getName() !== 'item' || child.getNS() !== NS_BLOCKING) continue;
    const raw = child.attrs.jid as string | undefined;
    if (raw === undefined) throw new StanzaError('bad-request', "an <item/> needs a 'jid' attribute");
    const jid = Jid.tryParse(raw);
    if (!jid) throw new StanzaError('jid-malformed', `"${raw.slice(0, 100)}" is not a valid JID`);
    out.set(jid.toString(), jid);
  }
  return [...out.values()];
}
