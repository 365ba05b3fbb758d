// What a server start tells its operator beyond "started": where the data lives (first start or not); while
// there is no account, the exact command that adds the first one; and which addresses listen, with a warning
// for a listener on every network interface (the default c2s address '::' reaches every network the host is on).
import { resolve } from 'node:path';
import type { Core } from './core.js';

export interface BoundAddress { type: string; ip: string; port: number }

const WILDCARD = new Set(['::', '0.0.0.0', '']);
/** Listeners that should not face the network unless meant to (admin API, metrics, components). */
const PRIVATE_KINDS = new Set(['http', 'https', 'component']);
const shown = (b: BoundAddress) => `${b.type} ${b.ip.includes(':') ? `[${b.ip}]` : b.ip}:${b.port}`;

export async function startupNotes(core: Core, bound: BoundAddress[], o: { firstStart: boolean; cliHint: (words: string) => string }): Promise<void> {
  const log = core.log.child({ part: 'startup' });
  const config = core.config;
  const dir = resolve(config.data_dir);
  log.info(`${o.firstStart ? 'first start: ' : ''}the data lives in ${dir}`, { data_dir: dir, config: config.path || '(embedded default)' });
  log.info(`listening on ${bound.length ? bound.map(shown).join(', ') : 'no address'}`, { listeners: bound.map(shown) });
  for (const b of bound) {
    if (!WILDCARD.has(b.ip)) continue;
    if (PRIVATE_KINDS.has(b.type)) {
      log.warn(`${b.type} listens on every network interface (${shown(b)}): put it on 127.0.0.1 (listen[].ip) or behind a firewall`, { type: b.type, ip: b.ip, port: b.port });
    } else if (b.type.startsWith('c2s')) {
      log.warn(`${b.type} listens on every network interface (${shown(b)}): clients on any network this host is on can connect; set listen[].ip to restrict it`, { type: b.type, ip: b.ip, port: b.port });
    }
  }
  let none = false;
  try {
    none = !(await core.accounts.any());
  } catch {
    // an auth provider that cannot list accounts: no hint
  }
  if (none) {
    const host = config.hosts[0]!;
    const cmd = o.cliHint(`user add admin@${host}`);
    log.info(`no accounts yet: add the first one with: ${cmd}`, { command: cmd });
  }
}
