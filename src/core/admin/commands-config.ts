// Admin commands for the configuration file: check it against the running server (a dry run) and reload it
// (src/core/config/reload: validated completely, applied all of it or none, restart-only keys reported).
import { CommandError, type AdminTarget, type CommandDef } from './command-def.js';
import type { ReloadReport } from '../config/reload/reload-report.js';

function reloader(t: AdminTarget): NonNullable<AdminTarget['reloadConfig']> {
  if (!t.reloadConfig) throw new CommandError('the server is not running', 'unavailable');
  return t.reloadConfig;
}

const refused = (r: ReloadReport, what: string): never => {
  throw new CommandError(`${what} (nothing changed): ${r.errors.join('; ')}`);
};

export const CONFIG_COMMANDS: CommandDef[] = [
  {
    name: 'config.check',
    description: "Validate the server's configuration file and show what a reload would apply and what needs a restart",
    args: [],
    run: async (t) => {
      const r = await reloader(t)({ dryRun: true });
      return r.ok ? r : refused(r, 'the configuration file is not valid');
    },
  },
  {
    name: 'config.reload',
    description: "Reload the server's configuration file: all changes that can be applied now, or none",
    args: [],
    run: async (t) => {
      const r = await reloader(t)();
      return r.ok ? r : refused(r, 'configuration not reloaded');
    },
  },
];
