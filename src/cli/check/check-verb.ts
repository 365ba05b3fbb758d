// `xmppd check-config` and `xmppd config check` as CLI verbs: registered here, run by check-command.ts, which
// (with the bundled modules it checks options against) is loaded only when the verb runs.
import type { Command } from 'commander';
import type { ModuleDefinition } from '../../core/module-runtime/module-definition.js';
import { formatReport, type ReloadReport } from '../../core/config/reload/reload-report.js';
import { callServer, NotRunningError } from '../control-client.js';

/** Registers the verb under `parent` as `name`; both names get exactly this. */
export function addCheckVerb(parent: Command, name: string, configOption: (c: Command) => Command, configFile: (opt: string | undefined) => string | undefined,
  bundled: () => Promise<Record<string, ModuleDefinition<any, any>>>): Command {
  return configOption(parent.command(name)
    .description('check the configuration as start does (every key, module options), its certificates and DNS; with the server running, what a reload would change')
    .option('--no-dns', 'skip the DNS lookups of SRV and address records'))
    .action(async (opts: { config?: string; dns: boolean }) => {
      const { fullCheck, formatCheck } = await import('./check-command.js');
      const result = await fullCheck(configFile(opts.config), await bundled(), { dns: opts.dns });
      const out = formatCheck(result);
      for (const l of out.stdout) console.log(l);
      for (const l of out.stderr) console.error(l);
      if (out.exit === 0 && result.file) {
        const report = await callServer(result.config!.control_socket, 'config.check', {}).catch((err) => {
          if (err instanceof NotRunningError) return undefined;
          throw err;
        });
        if (report) console.log(`running server: ${formatReport(report as ReloadReport)}`);
      }
      process.exitCode = out.exit;
    });
}
