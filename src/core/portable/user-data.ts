// One account's data in both directions: the XEP-0227 <user> element (export) and a <user> element written
// into the stores (import). The core keeps the account and its credentials (§4, hashed: <scram-credentials>);
// every other child belongs to the module that declares it (ModuleDefinition.portable, module-sections.ts).
import xml from '@xmpp/xml';
import type { Element } from '@xmpp/xml';
import type { Core } from '../core.js';
import { Jid } from '../jid.js';
import type { ScramCredential, ScramHash, StoredCredentials } from '../sasl/scram-credentials.js';
import { AccountRows } from './account-rows.js';
import { NS_PIE, NS_PIE_OLD, NS_PIE_SCRAM, parseScram, scramElement, standalone } from './pie-format.js';
import type { ModuleSections } from './module-sections.js';

export interface ImportCounts {
  users: number;
  created: number;
  updated: number;
  plainPasswords: number;
  scramCredentials: number;
  /** Accounts the file gave no usable credential for: created with an unusable random password. */
  noCredentials: string[];
  /** Accounts with SCRAM-SHA-1 keys only: SCRAM-SHA-256 logins fail until the password is set again. */
  sha1Only: number;
  skipped: Array<{ jid: string; reason: string }>;
  /** The modules' figures (rosterItems, vcards, privateNamespaces, offlineMessages, ...), added up. */
  sections: Record<string, number>;
  /** Data left out because it is over the limits of the module that serves it (vcard.max_size, ...). */
  overLimit: Record<string, number>;
  /** Kinds of user data no module here imports ({namespace}name -> users that had it): privacy lists, PEP, MAM... */
  ignored: Record<string, number>;
  warnings: string[];
}

export const emptyCounts = (): ImportCounts => ({
  users: 0, created: 0, updated: 0, plainPasswords: 0, scramCredentials: 0, noCredentials: [], sha1Only: 0,
  skipped: [], sections: {}, overLimit: {}, ignored: {}, warnings: [],
});

const MAX_WARNINGS = 200;
const SCRAM = `{${NS_PIE_SCRAM}}scram-credentials`;
/** A child's kind; the XEP-0227 namespace (inherited from <server-data>) counts as none. */
function kindOf(el: Element): string {
  const ns = el.getNS() ?? '';
  return `{${ns === NS_PIE || ns === NS_PIE_OLD ? '' : ns}}${el.getName()}`;
}

const add = (into: Record<string, number>, from: Record<string, number> | undefined) => {
  for (const [k, n] of Object.entries(from ?? {})) into[k] = (into[k] ?? 0) + n;
};

export class UserData {
  readonly accounts: AccountRows;

  constructor(readonly core: Core, readonly sections: ModuleSections) {
    this.accounts = new AccountRows(core);
  }

  // ---- export ---------------------------------------------------------------------------------------

  /** The <user> element of an account; `creds` null when another auth provider holds them. */
  async toElement(bare: Jid, creds: StoredCredentials | null): Promise<{ el: Element; counts: Record<string, number> }> {
    const user = xml('user', { name: bare.local });
    for (const hash of ['SHA-256', 'SHA-1'] as ScramHash[]) {
      const c = creds?.scram?.[hash];
      if (c) user.cnode(scramElement(hash, c));
    }
    const counts: Record<string, number> = {};
    for (const s of this.sections.of(bare.domain)) {
      const r = await s.portable.export(s.data, bare);
      for (const el of r.elements) user.cnode(el);
      add(counts, r.counts);
    }
    return { el: user, counts };
  }

  // ---- import ---------------------------------------------------------------------------------------

  /** Write one <user> of <host jid=host> into the stores; `internalAuth` false: credentials live elsewhere. */
  async importUser(host: string, user: Element, internalAuth: boolean, c: ImportCounts): Promise<void> {
    const warn = (m: string) => void (c.warnings.length < MAX_WARNINGS && c.warnings.push(m));
    let bare: Jid;
    try {
      bare = Jid.of(String(user.attrs.name ?? ''), host);
      if (!bare.local) throw new Error('the name attribute is missing');
    } catch (err) {
      c.skipped.push({ jid: `${user.attrs.name ?? '(no name)'}@${host}`, reason: `not a valid account name: ${(err as Error).message}` });
      return;
    }
    const jid = bare.bareString();
    const sections = this.sections.of(host);
    const claimed = new Map<string, number>(); // kind -> section index
    sections.forEach((s, i) => s.portable.elements.forEach((k) => claimed.has(k) || claimed.set(k, i)));
    const children = user.getChildElements();
    c.users++;
    for (const kind of new Set(children.map(kindOf).filter((k) => k !== SCRAM && !claimed.has(k)))) c.ignored[kind] = (c.ignored[kind] ?? 0) + 1;

    if (internalAuth) {
      const scram: StoredCredentials['scram'] = {};
      for (const el of user.getChildren('scram-credentials', NS_PIE_SCRAM)) {
        const r = parseScram(el);
        if ('error' in r) warn(`${jid}: ${r.error}; ignored`);
        else scram[r.hash] = r.cred as ScramCredential;
      }
      let creds: StoredCredentials | null = null;
      if (Object.keys(scram).length) {
        creds = { scram };
        c.scramCredentials++;
        if (!scram['SHA-256']) c.sha1Only++;
      } else if (typeof user.attrs.password === 'string' && user.attrs.password !== '') {
        try {
          creds = await this.accounts.password(user.attrs.password);
        } catch (err) {
          c.skipped.push({ jid, reason: `the password is not usable: ${(err as Error).message}` });
          c.users--;
          return;
        }
        c.plainPasswords++;
      } else if (!(await this.accounts.exists(bare))) {
        creds = await this.accounts.unusable();
        c.noCredentials.push(jid);
      }
      // No credential in the file for an existing account: it keeps the one it has.
      if (!creds || (await this.accounts.put(bare, creds)) === 'updated') c.updated++;
      else c.created++;
    }

    // Each module gets the children it claims, as standalone copies, in file order.
    const mine: Element[][] = sections.map(() => []);
    for (const el of children) {
      const i = claimed.get(kindOf(el));
      if (i !== undefined) mine[i]!.push(standalone(el));
    }
    for (const [i, s] of sections.entries()) {
      let r;
      try {
        r = await s.portable.import(s.data, bare, mine[i]!);
      } catch (err) {
        warn(`${jid}: the ${s.module} data was not imported: ${(err as Error).message}`);
        continue;
      }
      add(c.sections, r.counts);
      add(c.overLimit, r.overLimit);
      for (const w of r.warnings ?? []) warn(w);
    }
  }
}
