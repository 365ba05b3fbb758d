// The MUC service domains whose rooms this host archives (XEP-0313 §5): room archives are keyed by their
// own domain, so one row per (host, domain) lets the expiry sweep find them after a restart and on every node.
import type { ModuleContext } from '../../src/sdk.js';

export const ROOM_DOMAINS_TABLE = 'mam_room_domains';

export class RoomDomains {
  private readonly known = new Set<string>();
  private readonly prefix: string;

  constructor(private readonly ctx: ModuleContext<any>) {
    this.prefix = `${ctx.host}/`;
    // Another node's first room message on a new domain: its sweep and ours cover the same archives.
    ctx.watch(ROOM_DOMAINS_TABLE, (ev) => {
      if (ev.value !== undefined) this.known.add(ev.key.slice(this.prefix.length));
    }, { prefix: this.prefix });
  }

  async load(): Promise<void> {
    for (const r of await this.ctx.table(ROOM_DOMAINS_TABLE).range({ prefix: this.prefix })) this.known.add(r.key.slice(this.prefix.length));
  }

  list(): string[] {
    return [...this.known];
  }

  /** Record `domain` once (a lookup in memory on every later message). */
  async ensure(domain: string): Promise<void> {
    if (this.known.has(domain)) return;
    const r = await this.ctx.store.transact([{ type: 'put', table: ROOM_DOMAINS_TABLE, key: this.prefix + domain, value: {} }]);
    if (!r.ok) throw new Error(`could not record the room domain ${domain}`);
    this.known.add(domain);
  }
}
