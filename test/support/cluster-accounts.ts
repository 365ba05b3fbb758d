// Test accounts for cluster tests: made through one node and present on every node (the replicated tables carry
// them; a node that has not applied them yet finds them taken when it tries, which is fine).
import { Jid } from '../../src/core/jid.js';
import { AccountExistsError } from '../../src/core/accounts.js';
import { HOSTS, type TestServer } from './harness.js';
import { until } from './until.js';

export async function clusterAccounts(nodes: TestServer[], users: string[], hosts: readonly string[] = HOSTS): Promise<void> {
  for (const host of hosts) {
    for (const u of users) {
      const jid = Jid.of(u, host);
      for (const t of nodes) {
        if (await t.server.core.accounts.exists(jid)) continue;
        await t.server.core.accounts.create(jid, `pw-${u}`).catch((err: unknown) => {
          if (!(err instanceof AccountExistsError)) throw err;
        });
      }
    }
  }
  for (const t of nodes) {
    await until(async () => {
      for (const host of hosts) for (const u of users) if (!(await t.server.core.accounts.exists(Jid.of(u, host)))) return false;
      return true;
    }, `every account is on ${t.server.core.cluster?.node}`);
  }
}
