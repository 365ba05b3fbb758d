// Admin commands for moving data in and out: XEP-0227 export/import (accounts, rosters, vCards, private
// storage, offline messages; from and to ejabberd, Prosody and other xmppd servers) and whole-store
// backup/restore. All of them also run on the data directory while the server is stopped. Files: any path
// from the CLI, names inside admin_files_dir from REST and ad-hoc commands (admin-files.ts).
import { CommandError, type AdminTarget, type CommandCaller, type CommandDef } from './command-def.js';
import { fileToRead, fileToWrite } from './admin-files.js';
import { exportPie, type Progress } from '../portable/pie-export.js';
import { importPie } from '../portable/pie-import.js';
import { backupStore, restoreStore } from '../portable/backup.js';

/**
 * Progress of long work: the caller's callback when it runs in-process (the CLI on a stopped server
 * passes one in args, printing to stderr), else a log line.
 */
function progressOf(t: AdminTarget, a: Record<string, unknown>, what: string, caller: CommandCaller): Progress {
  if (caller.origin === 'cli' && typeof a.progress === 'function') return a.progress as Progress;
  const log = t.core.log.child({ part: 'admin', cmd: what });
  return (message) => log.info(message);
}

export const DATA_COMMANDS: CommandDef[] = [
  {
    name: 'data.export', description: 'Export accounts, rosters, vCards, private storage and offline messages (XEP-0227)', args: ['file', 'host?', 'overwrite?'], offline: true,
    run: async (t, a, caller) => {
      const host = a.host ? String(a.host).toLowerCase() : undefined;
      if (host && !t.core.config.hosts.includes(host)) throw new CommandError(`${host} is not one of this server's hosts (${t.core.config.hosts.join(', ')})`);
      const f = await fileToWrite(t, a, caller);
      const r = await exportPie(t.core, {
        file: f.path, overwrite: f.overwrite, ...(host && { host }), progress: progressOf(t, a, 'data.export', caller), signal: caller.signal,
        modules: t.modules, definitions: t.definitions,
      });
      return { ...r, file: String(a.file) };
    },
  },
  {
    name: 'data.import', description: 'Import a XEP-0227 file or directory (xmppd export, ejabberdctl export_piefxis, prosody-migrator)', args: ['file'], offline: true,
    run: async (t, a, caller) => {
      const f = await fileToRead(t, a, caller);
      return importPie(t.core, {
        file: f.path, name: String(a.file), positions: f.positions, progress: progressOf(t, a, 'data.import', caller),
        signal: caller.signal, modules: t.modules, definitions: t.definitions,
      });
    },
  },
  {
    name: 'backup', description: 'Write a consistent copy of every table to a file (JSON lines; .gz compresses)', args: ['file', 'overwrite?'], offline: true,
    run: async (t, a, caller) => {
      const f = await fileToWrite(t, a, caller);
      const r = await backupStore(t.core, { file: f.path, overwrite: f.overwrite, progress: progressOf(t, a, 'backup', caller), signal: caller.signal });
      return { ...r, file: String(a.file) };
    },
  },
  {
    // A running server's data (t.modules: it is serving) is only replaced with force; the refusal and the
    // result say what is replaced and what newer data is dropped.
    name: 'restore', description: 'Replace the contents of every table with a backup file (force: true on a running server, or when data newer than the backup would be dropped)', args: ['file', 'force?'], offline: true,
    run: async (t, a, caller) => {
      const f = await fileToRead(t, a, caller);
      const force = a.force === true || a.force === 'true' || a.force === '1';
      const r = await restoreStore(t.core, { file: f.path, name: String(a.file), positions: f.positions, progress: progressOf(t, a, 'restore', caller), force, running: t.modules !== undefined });
      return { ...r, file: String(a.file) };
    },
  },
];
