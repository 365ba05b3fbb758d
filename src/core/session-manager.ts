// Session manager: the bound resources of local users (RFC 6120 §7) and delivery to them.
import type { Element } from '@xmpp/xml';
import type { Jid } from './jid.js';
import type { Session } from './session.js';
import { StreamError } from './errors.js';

/** Told of local sessions as they come, change (presence, priority) and go: the cluster's session registry. */
export interface SessionObserver {
  added(session: Session): void;
  /** Resolves once the change is visible to the other nodes. */
  changed(session: Session): Promise<void>;
  removed(session: Session): void;
}

export class SessionManager {
  /** null on a single node: no cost there. */
  observer: SessionObserver | null = null;

  /** bare JID -> resource -> session */
  private readonly byBare = new Map<string, Map<string, Session>>();
  private total = 0;

  /**
   * Add a bound session. A session already holding the same full JID is replaced and closed with
   * <conflict/> (RFC 6120 §7.7.2.2, the "override" policy most servers use).
   */
  add(session: Session): Session | undefined {
    const bare = session.jid.bareString();
    let resources = this.byBare.get(bare);
    if (!resources) {
      resources = new Map();
      this.byBare.set(bare, resources);
    }
    const old = resources.get(session.jid.resource);
    resources.set(session.jid.resource, session);
    if (old) {
      old.close(new StreamError('conflict', 'replaced by a new session with the same resource'));
    } else {
      this.total++;
    }
    if (this.observer && session.remote === undefined) this.observer.added(session);
    return old;
  }

  /** Remove a session (only if it is still the one registered under its JID). */
  remove(session: Session): boolean {
    const bare = session.jid.bareString();
    const resources = this.byBare.get(bare);
    if (!resources || resources.get(session.jid.resource) !== session) return false;
    resources.delete(session.jid.resource);
    if (resources.size === 0) this.byBare.delete(bare);
    this.total--;
    if (this.observer && session.remote === undefined) this.observer.removed(session);
    return true;
  }

  /** A local session's presence or priority changed (the cluster republishes it). */
  changed(session: Session): Promise<void> | undefined {
    return this.observer?.changed(session);
  }

  get(full: Jid): Session | undefined {
    return this.byBare.get(full.bareString())?.get(full.resource);
  }

  /** All sessions of an account (in bind order). */
  resources(bare: Jid): Session[] {
    const r = this.byBare.get(bare.bareString());
    return r ? [...r.values()] : [];
  }

  hasResource(full: Jid, resource: string): boolean {
    return this.byBare.get(full.bareString())?.has(resource) ?? false;
  }

  /**
   * The sessions a message to the bare JID goes to (RFC 6121 §8.5.2.1.1): available resources with
   * non-negative priority, the highest priority ones.
   */
  messageTargets(bare: Jid): Session[] {
    const r = this.byBare.get(bare.bareString());
    if (!r) return [];
    let best = -1;
    let out: Session[] = [];
    for (const s of r.values()) {
      if (!s.presence || s.priority < 0) continue;
      if (s.priority > best) {
        best = s.priority;
        out = [s];
      } else if (s.priority === best) {
        out.push(s);
      }
    }
    return out;
  }

  /** Available resources with non-negative priority (RFC 6121 §8.5.2.1.1 headline delivery). */
  availableResources(bare: Jid): Session[] {
    const r = this.byBare.get(bare.bareString());
    if (!r) return [];
    const out: Session[] = [];
    for (const s of r.values()) if (s.presence && s.priority >= 0) out.push(s);
    return out;
  }

  count(): number {
    return this.total;
  }

  all(): Session[] {
    const out: Session[] = [];
    for (const r of this.byBare.values()) for (const s of r.values()) out.push(s);
    return out;
  }

  /** Send an element to every session of a user. */
  broadcast(bare: Jid, el: Element): void {
    for (const s of this.resources(bare)) s.send(el);
  }
}
