// `xmppd export`: every account of every host (or of one) as one XEP-0227 document, written a user at a
// time (the accounts table is read in pages, so memory does not grow with the number of accounts).
import type { Core } from '../core.js';
import { Jid } from '../jid.js';
import { CommandError } from '../admin/command-def.js';
import { escapeXML } from '@xmpp/xml';
import { createOutFile } from './file-io.js';
import { NS_PIE } from './pie-format.js';
import { UserData } from './user-data.js';
import { ModuleSections, type SectionSource } from './module-sections.js';

export type Progress = (message: string) => void;

export interface ExportReport {
  file: string;
  hosts: Array<{ host: string; users: number }>;
  users: number;
  warnings: string[];
  /** The modules' figures (rosterItems, vcards, privateElements, offlineMessages, ...). */
  [count: string]: unknown;
}

/**
 * Line breaks inside text and attribute values as character references: what a user typed (a vCard field)
 * never starts a line of its own in the file, and the document reads back the same (XML 1.0 §4.1).
 */
const oneLine = (s: string) => s.replace(/\r/g, '&#13;').replace(/\n/g, '&#10;');

export async function exportPie(core: Core, opts: { file: string; overwrite?: boolean; host?: string; progress?: Progress; every?: number; signal?: AbortSignal } & SectionSource): Promise<ExportReport> {
  const hosts = opts.host ? [opts.host] : core.config.hosts;
  for (const h of hosts) if (!core.config.hosts.includes(h)) throw new CommandError(`${h} is not one of this server's hosts (${core.config.hosts.join(', ')})`);
  const every = opts.every ?? 1000;
  const sections = new ModuleSections(core, opts);
  const data = new UserData(core, sections);
  const out = await createOutFile(opts.file, { overwrite: opts.overwrite });
  const counts: Record<string, number> = {};
  const report: ExportReport = { file: opts.file, hosts: [], users: 0, warnings: [] };
  try {
    await out.write(`<?xml version='1.0' encoding='UTF-8'?>\n<server-data xmlns='${NS_PIE}'>\n`);
    for (const host of hosts) {
      await out.write(`<host jid='${escapeXML(host)}'>\n`);
      let n = 0;
      const add = async (bare: Jid, creds: Parameters<UserData['toElement']>[1]) => {
        if (opts.signal?.aborted) throw new CommandError('the export was cancelled (the requester went away); no file was written');
        const { el, counts: c } = await data.toElement(bare, creds);
        await out.write(`${oneLine(el.toString())}\n`);
        n++;
        for (const [k, v] of Object.entries(c)) counts[k] = (counts[k] ?? 0) + v;
        if (n % every === 0) opts.progress?.(`export: ${host}: ${n} users`);
      };
      const routed = core.auth?.routed(host);
      if (!routed) {
        for await (const { local, row } of data.accounts.scan(host)) await add(Jid.of(local, host), row.creds);
      } else {
        // Another provider (extauth, a module) holds the accounts: the users it can list, without credentials.
        report.warnings.push(`${host}: accounts are kept by the ${core.auth!.configOf(host).method} auth provider; exported without credentials`);
        let users: string[] = [];
        try {
          users = await core.accounts.list(host);
        } catch (err) {
          report.warnings.push(`${host}: the auth provider cannot list accounts (${(err as Error).message}); no users exported`);
        }
        for (const u of users) await add(Jid.parse(u), null);
      }
      await out.write('</host>\n');
      report.hosts.push({ host, users: n });
      report.users += n;
      opts.progress?.(`export: ${host}: done, ${n} users`);
    }
    await out.write('</server-data>\n');
    await out.commit();
    if (sections.unavailable.size) report.warnings.push(`not exported: the data of ${[...sections.unavailable].join(', ')}`);
  } catch (err) {
    await out.abort();
    throw err;
  }
  return { ...report, ...counts };
}
