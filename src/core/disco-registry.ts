// What the server advertises in service discovery (XEP-0030), per host: features and identities that
// modules add while they run (reference-counted, so two modules may share a feature).
import type { DiscoIdentity } from '../../hooks/index.js';

export type DiscoTarget = 'server' | 'account';

export class DiscoRegistry {
  private readonly features = new Map<string, Map<string, number>>();
  private readonly identities = new Map<string, DiscoIdentity[]>();

  addFeature(host: string, target: DiscoTarget, feature: string): () => void {
    const k = `${host}\u0000${target}`;
    let m = this.features.get(k);
    if (!m) this.features.set(k, (m = new Map()));
    m.set(feature, (m.get(feature) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (m!.get(feature) ?? 1) - 1;
      if (n <= 0) m!.delete(feature);
      else m!.set(feature, n);
    };
  }

  addIdentity(host: string, identity: DiscoIdentity): () => void {
    const list = this.identities.get(host) ?? [];
    list.push(identity);
    this.identities.set(host, list);
    return () => {
      const i = list.indexOf(identity);
      if (i >= 0) list.splice(i, 1);
    };
  }

  featuresOf(host: string, target: DiscoTarget): string[] {
    return [...(this.features.get(`${host}\u0000${target}`)?.keys() ?? [])].sort();
  }

  identitiesOf(host: string): DiscoIdentity[] {
    return [...(this.identities.get(host) ?? [])];
  }

  size(): number {
    let n = 0;
    for (const m of this.features.values()) n += m.size;
    for (const l of this.identities.values()) n += l.length;
    return n;
  }
}
