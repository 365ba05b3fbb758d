// The runtime admin command registry behind every admin surface (control socket/CLI, REST, XEP-0050 ad-hoc):
// the core's commands plus those modules register through ctx.command(), per host, released when the
// module stops. A command that targets an account (a `jid` argument) runs on the module instance of that
// account's host.
import type { Jid } from '../jid.js';
import { CommandError, bareJid, type AdminTarget, type CommandCaller, type CommandDef } from './command-def.js';

/** What a module registers (ctx.command). */
export interface ModuleCommandDef {
  /** A dotted name, e.g. 'roster.get'; unique across the server. */
  name: string;
  description: string;
  /** Argument names; a trailing '?' marks an optional one. A `jid` argument is an account: see above. */
  args: string[];
  /** With a `jid` argument: refuse (not-found) an account that does not exist. Default true. */
  existingAccount?: boolean;
  run(args: Record<string, unknown>, call: ModuleCommandCall): Promise<unknown>;
}

export interface ModuleCommandCall {
  /** The host whose instance runs the command. */
  host: string;
  /** The `jid` argument as a bare JID of an account of `host` (checked to be one of this server's hosts). */
  jid?: Jid;
  caller: CommandCaller;
}

/** A command as the admin surfaces list it. */
export interface CommandInfo { name: string; description: string; args: string[]; module?: string }

interface Registered { module: string; def: ModuleCommandDef; hosts: Map<string, ModuleCommandDef> }

const NAME = /^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)+$/;

export class CommandRegistry {
  private readonly builtIn: Map<string, CommandDef>;
  private readonly fromModules = new Map<string, Registered>();

  constructor(commands: CommandDef[]) {
    this.builtIn = new Map(commands.map((c) => [c.name, c]));
  }

  /** Register a module instance's command on `host`; returns the release function. */
  register(host: string, module: string, def: ModuleCommandDef): () => void {
    if (!NAME.test(def.name)) throw new Error(`module ${module}: "${def.name}" is not a valid command name (dotted, lowercase, e.g. ${module}.list)`);
    if (this.builtIn.has(def.name)) throw new Error(`module ${module}: the command ${def.name} is the server's own`);
    let r = this.fromModules.get(def.name);
    if (r && r.module !== module) throw new Error(`module ${module}: the command ${def.name} is already registered by module ${r.module}`);
    if (!r) this.fromModules.set(def.name, (r = { module, def, hosts: new Map() }));
    if (r.hosts.has(host)) throw new Error(`module ${module}: the command ${def.name} is already registered on ${host}`);
    r.hosts.set(host, def);
    r.def = def; // the newest description and arguments (a reload may change them)
    const reg = r;
    return () => {
      if (reg.hosts.get(host) !== def) return;
      reg.hosts.delete(host);
      if (!reg.hosts.size && this.fromModules.get(def.name) === reg) this.fromModules.delete(def.name);
    };
  }

  /** The command by name, as one definition whichever its origin. */
  get(name: string): CommandDef | undefined {
    const core = this.builtIn.get(name);
    if (core) return core;
    const r = this.fromModules.get(name);
    return r && this.dispatcher(name, r);
  }

  /** Every command: the core's first, then the modules' by name. */
  list(): CommandInfo[] {
    const core = [...this.builtIn.values()].map((c) => ({ name: c.name, description: c.description, args: c.args }));
    const mods = [...this.fromModules.values()].sort((a, b) => a.def.name.localeCompare(b.def.name))
      .map((r) => ({ name: r.def.name, description: r.def.description, args: r.def.args, module: r.module }));
    return [...core, ...mods];
  }

  /** Names of the commands of module instances that run on `host` (tests and listings). */
  namesOn(host: string): string[] {
    return [...this.fromModules.values()].filter((r) => r.hosts.has(host)).map((r) => r.def.name);
  }

  private dispatcher(name: string, r: Registered): CommandDef {
    const { def, module } = r;
    return {
      name, description: def.description, args: def.args,
      run: async (t: AdminTarget, args, caller) => {
        let host: string;
        let jid: Jid | undefined;
        if (def.args.includes('jid') || (def.args.includes('jid?') && args.jid !== undefined && args.jid !== '')) {
          jid = bareJid(t, args.jid);
          host = jid.domain;
        } else if ((def.args.includes('host') || def.args.includes('host?')) && args.host !== undefined && args.host !== '') {
          host = String(args.host).toLowerCase();
          if (!t.core.config.hosts.includes(host)) throw new CommandError(`${host} is not one of this server's hosts (${t.core.config.hosts.join(', ')})`);
        } else {
          // A server-level command of a module: its instance on the first host that runs it.
          host = t.core.config.hosts.find((h) => r.hosts.has(h)) ?? [...r.hosts.keys()][0]!;
        }
        // The live instance, looked up per call: it can be unloaded or reloaded between two calls.
        const current = this.fromModules.get(name);
        const impl = current?.hosts.get(host);
        if (!impl) throw new CommandError(`${module} is not loaded on ${host}`, 'unavailable');
        if (jid && impl.existingAccount !== false && !(await t.core.accounts.exists(jid))) throw new CommandError(`${jid.toString()} does not exist`, 'not-found');
        return impl.run(args, { host, ...(jid && { jid }), caller });
      },
    };
  }
}
