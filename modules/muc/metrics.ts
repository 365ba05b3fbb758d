// Prometheus metrics of the MUC services: rooms and occupants per host (read at scrape time from the running
// services, nothing on the message path) and groupchat messages broadcast.
import type { ModuleContext } from '../../src/sdk.js';
import type { MucService } from './service.js';

/** The running services of every host (the gauges are registered once and shared by the instances). */
const running = new Set<MucService>();

export interface MessageCounter { inc(labels: { host: string }): void }

export function mucMetrics(ctx: ModuleContext<any>, svc: MucService): MessageCounter {
  running.add(svc);
  ctx.onStop(() => void running.delete(svc));
  ctx.gauge({
    name: 'xmppd_muc_rooms', help: 'MUC rooms in memory (persistent and active temporary rooms)', labelNames: ['host'],
    collect() {
      this.reset();
      for (const s of running) this.set({ host: s.ctx.host }, s.rooms.size);
    },
  });
  ctx.gauge({
    name: 'xmppd_muc_occupants', help: 'Occupants of MUC rooms', labelNames: ['host'],
    collect() {
      this.reset();
      for (const s of running) {
        let n = 0;
        for (const r of s.rooms.values()) n += r.occupants.size;
        this.set({ host: s.ctx.host }, n);
      }
    },
  });
  return ctx.counter({ name: 'xmppd_muc_messages_total', help: 'Groupchat messages broadcast by MUC rooms', labelNames: ['host'] });
}
