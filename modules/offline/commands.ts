// The offline store's admin command (CLI `xmppd offline-count`, REST, ad-hoc): how many messages wait for an account (XEP-0160).
import type { ModuleContext, OfflineApi } from '../../src/sdk.js';

export function offlineCommands(ctx: ModuleContext<any>, api: OfflineApi): void {
  ctx.command({
    name: 'offline.count', description: 'Count the offline messages stored for an account', args: ['jid'],
    run: async (_a, { jid }) => ({ jid: jid!.toString(), count: await api.count(jid!) }),
  });
}
