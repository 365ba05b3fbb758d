// Admin commands for moving data in and out: XEP-0227 export/import (accounts, rosters, vCards, private
// storage, offline messages; from and to ejabberd, Prosody and other xmppd servers) and whole-store
// backup/restore. All of them also run on the data directory while the server is stopped.
import { CommandError, type AdminTarget, type CommandDef } from './command-def.js';
import { resolvePath } from '../portable/file-io.js';
import { exportPie, type Progress } from '../portable/pie-export.js';
import { importPie } from '../portable/pie-import.js';
import { backupStore, restoreStore } from '../portable/backup.js';

/**
 * Progress of long work: the caller's callback when it runs in-process (the CLI on a stopped server
 * passes one in args, printing to stderr), else a log line.
 */
function progressOf(t: AdminTarget, a: Record<string, unknown>, what: string): Progress {
  if (typeof a.progress === 'function') return a.progress as Progress;
  const log = t.core.log.child({ part: 'admin', cmd: what });
  return (message) => log.info(message);
}

const file = (t: AdminTarget, a: Record<string, unknown>) => resolvePath(a.file, t.core.config.data_dir);

export const DATA_COMMANDS: CommandDef[] = [
  {
    name: 'data.export', description: 'Export accounts, rosters, vCards, private storage and offline messages (XEP-0227)', args: ['file', 'host?'], offline: true,
    run: (t, a) => {
      const host = a.host ? String(a.host).toLowerCase() : undefined;
      if (host && !t.core.config.hosts.includes(host)) throw new CommandError(`${host} is not one of this server's hosts (${t.core.config.hosts.join(', ')})`);
      return exportPie(t.core, { file: file(t, a), ...(host && { host }), progress: progressOf(t, a, 'data.export') });
    },
  },
  {
    name: 'data.import', description: 'Import a XEP-0227 file or directory (xmppd export, ejabberdctl export_piefxis, prosody-migrator)', args: ['file'], offline: true,
    run: (t, a) => importPie(t.core, { file: file(t, a), progress: progressOf(t, a, 'data.import') }),
  },
  {
    name: 'backup', description: 'Write a consistent copy of every table to a file (JSON lines; .gz compresses)', args: ['file'], offline: true,
    run: (t, a) => backupStore(t.core, { file: file(t, a), progress: progressOf(t, a, 'backup') }),
  },
  {
    name: 'restore', description: 'Replace the contents of every table with a backup file', args: ['file'], offline: true,
    run: (t, a) => restoreStore(t.core, { file: file(t, a), progress: progressOf(t, a, 'restore') }),
  },
];
