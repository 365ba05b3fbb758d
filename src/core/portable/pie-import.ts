// `xmppd import`: XEP-0227 files (ours, ejabberd's export_piefxis directory or main file, Prosody's
// migrator output) into the stores, one <user> at a time. Re-importing updates accounts, rosters, vCards and
// private data in place and stores each offline message once.
import type { Core } from '../core.js';
import { PieReader } from './pie-reader.js';
import { ModuleSections, type SectionSource } from './module-sections.js';
import type { Progress } from './pie-export.js';
import { emptyCounts, UserData, type ImportCounts } from './user-data.js';

export interface ImportReport extends Omit<ImportCounts, 'sections'> {
  /** The modules' figures (rosterItems, vcards, privateNamespaces, offlineMessages, ...) sit at the top level. */
  [count: string]: unknown;
  files: string[];
  hosts: Record<string, number>;
  /** Hosts in the file this server does not serve, with the number of users left out. */
  unknownHosts: Record<string, number>;
}

export interface ImportOptions extends SectionSource {
  file: string;
  /** The file as the requester named it (messages); `positions`: messages may give offsets and server paths. */
  name?: string;
  positions?: boolean;
  progress?: Progress;
  every?: number;
  /** Stop between two users when aborted (the requester went away or cancelled). */
  signal?: AbortSignal;
}

export async function importPie(core: Core, opts: ImportOptions): Promise<ImportReport> {
  const every = opts.every ?? 1000;
  const sections = new ModuleSections(core, opts);
  const data = new UserData(core, sections);
  const counts = emptyCounts();
  const hosts: Record<string, number> = {};
  const unknownHosts: Record<string, number> = {};
  const routedWarned = new Set<string>();
  const reader = new PieReader({
    warn: (m) => void (counts.warnings.length < 200 && counts.warnings.push(m)),
    skip: (host, name, reason) => void counts.skipped.push({ jid: `${name}@${host}`, reason }),
    async user(host, el) {
      const h = host.toLowerCase();
      if (!core.config.hosts.includes(h)) {
        unknownHosts[h] = (unknownHosts[h] ?? 0) + 1;
        return;
      }
      const routed = core.auth?.routed(h);
      if (routed && !routedWarned.has(h)) {
        routedWarned.add(h);
        counts.warnings.push(`${h}: accounts are kept by the ${core.auth!.configOf(h).method} auth provider; credentials in the file are not imported`);
      }
      await data.importUser(h, el, !routed, counts);
      hosts[h] = (hosts[h] ?? 0) + 1;
      if (counts.users % every === 0) opts.progress?.(`import: ${counts.users} users (${counts.created} created, ${counts.updated} updated)`);
    },
  }, { limits: core.config.import_limits, signal: opts.signal, positions: opts.positions ?? true });
  await reader.read(opts.file, opts.name ?? opts.file);
  for (const [h, n] of Object.entries(unknownHosts)) {
    counts.warnings.push(`${h} is not one of this server's hosts (${core.config.hosts.join(', ')}): its ${n} users were not imported; add it to hosts first`);
  }
  const ignored = Object.entries(counts.ignored);
  if (ignored.length) {
    counts.warnings.push(`not imported (data xmppd does not keep this way): ${ignored.map(([k, n]) => `${k} (${n} users)`).join(', ')}`);
  }
  if (counts.noCredentials.length) {
    counts.warnings.push(`${counts.noCredentials.length} accounts had no credentials in the file and got a random password: set one with "xmppd user passwd"`);
  }
  const over = Object.entries(counts.overLimit).filter(([, n]) => n > 0);
  if (over.length) {
    counts.warnings.push(`not imported (over this server's limits): ${over.map(([k, n]) => `${n} ${k}`).join(', ')}`);
  }
  if (counts.sha1Only) {
    counts.warnings.push(`${counts.sha1Only} accounts have SCRAM-SHA-1 keys only: they log in with SCRAM-SHA-1 or PLAIN; SCRAM-SHA-256 works once their password is set again`);
  }
  if (sections.unavailable.size) {
    counts.warnings.push(`not imported: the data of ${[...sections.unavailable].join(', ')}`);
  }
  opts.progress?.(`import: done, ${counts.users} users from ${reader.files.length} file(s)`);
  const { sections: figures, ...rest } = counts;
  return { files: reader.files, hosts, unknownHosts, ...figures, ...rest };
}
