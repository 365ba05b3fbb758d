// XEP-0050 Ad-Hoc Commands on the server's domain, serving the XEP-0133 Service Administration commands
// (and the rest of the admin command registry the CLI uses) to administrators; disco per XEP-0050 §2.
import { defineModule, opt, type IqRequest, type Jid, type OptionValues } from '../../src/sdk.js';
import { NS_COMMANDS, NS_DATA } from './forms.js';
import { SessionTable } from './sessions.js';
import { execute, type Executor } from './execute.js';
import type { AdhocCommand } from './command.js';
import { XEP0133_COMMANDS } from './xep0133.js';
import { xmppdCommands } from './xmppd-commands.js';

const options = {
  /** An access rule (access_rules.<name>) that grants the commands besides membership of the `admin` ACL. */
  access: opt.string('configure'),
  /** Seconds a started command waits for its form to come back before the session expires (XEP-0050 §3.3). */
  session_timeout: opt.number(600, { min: 1, max: 86_400, integer: true }),
};

export type AdhocOptions = OptionValues<typeof options>;

export default defineModule({
  name: 'adhoc',
  description: 'Ad-hoc commands: service administration from an XMPP client',
  xeps: ['XEP-0050', 'XEP-0133'],
  optional: ['disco'],
  features: [NS_COMMANDS],
  options,
  start(ctx) {
    const sessions = new SessionTable(ctx.options.session_timeout * 1000);
    ctx.onStop(() => sessions.clear());

    // The registry as it is now: modules register and withdraw their commands as they load and unload.
    const listed = (): AdhocCommand[] => [...XEP0133_COMMANDS, ...xmppdCommands(ctx.commands())];
    const commands = {
      get(node: string): AdhocCommand | undefined {
        return listed().find((c) => c.node === node || c.aliases?.includes(node));
      },
    };

    // XEP-0133 §7: only service-level administrators.
    const isAdmin = (jid: Jid) => ctx.inAcl('admin', { jid }) || ctx.allowed(ctx.options.access, { jid });
    const executor: Executor = {
      ctx,
      sessions,
      commands,
      mayRun: (req: IqRequest) => isAdmin(req.from),
      env: (req: IqRequest) => ({
        host: ctx.host,
        from: req.from,
        run: (name, args, caller) => ctx.adminCommand(name, args, caller),
        modules: () => ctx.loadedModules(),
        accounts: ctx.accounts,
        log: ctx.log,
      }),
    };
    ctx.iq('host', NS_COMMANDS, async (req) => {
      try {
        return await execute(executor, req);
      } catch (err) {
        // The error echoes the request (RFC 6120 §8.3.1) minus any submitted form: it may hold a password.
        req.payload.children = req.payload.children.filter((c) => typeof c === 'string' || !(c.name === 'x' && c.attrs.xmlns === NS_DATA));
        throw err;
      }
    });
    // A requester's sessions end with its stream (XEP-0050 §3.3: valid between one requester/responder pair).
    // Global: the requester may be an account of another host (or its session may close on another host).
    ctx.hookGlobal('session_closed', ({ session }) => sessions.endOwnedBy(session.jid.toString()));

    // XEP-0050 §2.2: the command list node and each command node describe themselves.
    ctx.hook('disco_info', (info, c) => {
      if (c.target !== 'server' || c.node === undefined) return;
      if (c.node === NS_COMMANDS) {
        return { ...info, identities: [...info.identities, { category: 'automation', type: 'command-list', name: 'Commands' }] };
      }
      const command = commands.get(c.node);
      // §2.2 would answer <forbidden/> to others; a disco_info handler cannot, so they see no such node.
      if (!command || !isAdmin(c.from)) return;
      return {
        identities: [...info.identities, { category: 'automation', type: 'command-node', name: command.name }],
        features: [...info.features, NS_COMMANDS, NS_DATA],
        forms: info.forms,
      };
    });

    // XEP-0050 §2.2: the commands this requester may run are the items of the commands node (none for others).
    // Claiming the node makes it a known one (an empty list, not item-not-found) for everyone.
    ctx.hook('disco_items', (found, c) => {
      if (c.target !== 'server' || c.node !== NS_COMMANDS) return;
      const mine = isAdmin(c.from) ? listed().map((cmd) => ({ jid: ctx.host, node: cmd.node, name: cmd.name })) : [];
      return [...(found ?? []), ...mine];
    });
  },
});
