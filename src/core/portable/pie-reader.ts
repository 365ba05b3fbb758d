// Streams XEP-0227 files: <server-data>/<host>/<user>, one <user> element at a time, so a large export is
// never held in memory. Follows XInclude (ejabberd's export_piefxis writes a main file that includes one
// file per host) and reads a directory of files (Prosody's migrator writes one file per user). Bounded by
// import_limits (total bytes, bytes per <user>, per text node or tag, nesting); never leaves the import
// directory (symbolic links and includes are resolved and checked); yields to the event loop between users.
import { readdir, realpath, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, relative, resolve } from 'node:path';
import { setImmediate as nextTick } from 'node:timers/promises';
import SaxLtx from 'ltx/lib/parsers/ltx.js';
import xml from '@xmpp/xml';
import type { Element } from '@xmpp/xml';
import { CommandError } from '../admin/command-def.js';
import type { ImportLimits } from '../config/types.js';
import { openInFile } from './file-io.js';
import { CdataToText } from './cdata-text.js';
import { MarkupError, MarkupGuard } from './markup-guard.js';
import { NS_PIE, NS_PIE_OLD, NS_XINCLUDE } from './pie-format.js';

export interface PieVisitor {
  /** A complete <user> of <host jid=host>, detached from the document. */
  user(host: string, el: Element): Promise<void>;
  /** A <user> left out because it is larger than import_limits.max_user_bytes. */
  skip(host: string, name: string, reason: string): void;
  warn(msg: string): void;
}

export interface PieReaderOptions {
  limits: ImportLimits;
  signal?: AbortSignal;
  /** Messages may give byte offsets and server paths (the CLI's operator); else names relative to the import directory. */
  positions: boolean;
}

type Item = { kind: 'user'; host: string; el: Element } | { kind: 'include'; href: string; host: string | null };

/** An element we are inside but do not build: the document structure, or something skipped. */
interface Frame { local: string; host: string | null; decls: Record<string, string>; skip: boolean }

const PIE_NS = new Set([NS_PIE, NS_PIE_OLD]);
const localOf = (name: string) => name.slice(name.indexOf(':') + 1);
const prefixOf = (name: string) => (name.includes(':') ? name.slice(0, name.indexOf(':')) : '');
const inside = (root: string, p: string) => {
  const rel = relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
};

export class PieReader {
  private readonly seen = new Set<string>();
  readonly files: string[] = [];
  /** The import directory (real path): nothing outside it is read. */
  private root = '';
  private name = '';
  private total = 0;

  constructor(private readonly v: PieVisitor, private readonly o: PieReaderOptions) {}

  /** How a file is named in messages. */
  private label(file: string): string {
    if (this.o.positions) return file;
    return relative(this.root, file) || this.name;
  }

  /**
   * A file, or every *.xml / *.xml.gz file of a directory (files another one includes are read once).
   * `name`: the file as the requester named it, for messages.
   */
  async read(path: string, name = path): Promise<void> {
    this.name = name;
    let real: string;
    let st;
    try {
      real = await realpath(path);
      st = await stat(real);
    } catch {
      throw new CommandError(`cannot read ${name}: no such file or directory`, 'not-found');
    }
    if (!st.isDirectory()) {
      this.root = dirname(real);
      return this.readFile(real, null);
    }
    this.root = real;
    const names = (await readdir(real)).filter((n) => /\.xml(\.gz)?$/.test(n) && !n.startsWith('.')).sort();
    const files: string[] = [];
    for (const n of names) {
      const f = await this.within(resolve(real, n), n);
      if (f) files.push(f);
    }
    if (!files.length) throw new CommandError(`${name} holds no .xml files`, 'not-found');
    // Main files first: a file that only holds an included <host> is then already read when its turn comes.
    const roots = await Promise.all(files.map(async (f) => ({ f, root: await this.rootName(f) })));
    for (const { f } of [...roots.filter((r) => r.root !== 'host'), ...roots.filter((r) => r.root === 'host')]) {
      await this.readFile(f, null);
    }
  }

  /** The real path of a file to read, if it is a regular file inside the import directory (else a warning). */
  private async within(path: string, shown: string): Promise<string | null> {
    const real = await realpath(path).catch(() => null);
    if (!real) {
      this.v.warn(`${shown}: no such file; skipped`);
      return null;
    }
    if (!inside(this.root, real)) {
      this.v.warn(`${shown} is outside the import directory (by its name or through a symbolic link); skipped`);
      return null;
    }
    if (!(await stat(real)).isFile()) {
      this.v.warn(`${shown} is not a regular file; skipped`);
      return null;
    }
    return real;
  }

  private async rootName(file: string): Promise<string> {
    const input = await openInFile(file, { nofollow: true });
    const decoder = new TextDecoder('utf-8');
    let head = '';
    for await (const chunk of input) {
      head += decoder.decode(chunk as Buffer, { stream: true });
      const m = /<([A-Za-z_][\w.:-]*)[\s/>]/.exec(head.replace(/<\?[\s\S]*?\?>|<!--[\s\S]*?-->|<!DOCTYPE[^>]*>/g, ''));
      if (m || head.length > 65536) {
        input.destroy();
        return m ? localOf(m[1]!) : '';
      }
    }
    return '';
  }

  /**
   * One document. `host` is the <host> an include sits in (null at the top): the included document may
   * be a whole <server-data>, a <host>, or (inside a host) <user> elements.
   */
  private async readFile(file: string, host: string | null): Promise<void> {
    // `file` is a real path inside the import directory (read() and include() check it).
    if (this.seen.has(file)) return;
    this.seen.add(file);
    this.files.push(this.label(file));
    const { max_bytes, max_user_bytes, max_text_bytes, max_depth } = this.o.limits;
    const input = await openInFile(file, { nofollow: true });
    const sax = new SaxLtx();
    const decoder = new TextDecoder('utf-8', { fatal: true });
    const cdata = new CdataToText();
    const guard = new MarkupGuard(max_text_bytes);
    const frames: Frame[] = [];
    const queue: Item[] = [];
    let building: Element | null = null; // innermost open element inside a <user>
    let userRoot: Element | null = null;
    let userBytes = 0;
    let discard: { host: string; name: string; depth: number } | null = null; // a <user> over max_user_bytes, being skipped
    let depth = 0;
    let rootSeen = false;
    let rootClosed = false;
    let offset = 0;
    const shown = this.label(file);

    const fail = (what: string): never => {
      throw new CommandError(`${shown}: ${what}${this.o.positions ? ` (near byte ${offset})` : ''}`, 'invalid');
    };
    const notPie = (why: string): never => fail(`this is not a XEP-0227 file: ${why}`);
    const top = () => frames[frames.length - 1];
    const resolveNs = (name: string, attrs: Record<string, string>): string | undefined => {
      const p = prefixOf(name);
      const attr = p ? `xmlns:${p}` : 'xmlns';
      if (attrs[attr] !== undefined) return attrs[attr];
      for (let i = frames.length - 1; i >= 0; i--) if (frames[i]!.decls[attr] !== undefined) return frames[i]!.decls[attr];
      return undefined;
    };

    const attrBytes = (attrs: Record<string, string>) => Object.entries(attrs).reduce((n, [k, v]) => n + k.length + v.length + 4, 0);
    const userTooBig = () => {
      discard = { host: top()?.host ?? host!, name: String(userRoot!.attrs.name ?? '(no name)'), depth: 1 };
      let e: Element | null = building;
      while (e && e !== userRoot) {
        discard.depth++;
        e = e.parent;
      }
      building = userRoot = null;
    };

    sax.on('startElement', (name: string, attrs: Record<string, string>) => {
      if (++depth > max_depth) fail(`elements are nested more than ${max_depth} deep (import_limits.max_depth)`);
      if (discard) {
        discard.depth++;
        return;
      }
      if (building) {
        userBytes += name.length * 2 + 5 + attrBytes(attrs);
        building = building.cnode(xml(name, attrs));
        if (userBytes > max_user_bytes) userTooBig();
        return;
      }
      if (rootClosed) fail('content after the root element');
      const local = localOf(name);
      const ns = resolveNs(name, attrs);
      const parent = top();
      const decls = Object.fromEntries(Object.entries(attrs).filter(([k]) => k === 'xmlns' || k.startsWith('xmlns:')));
      const frame: Frame = { local, host: parent?.host ?? host, decls, skip: parent?.skip ?? false };
      if (!rootSeen) {
        rootSeen = true;
        const ok = (local === 'server-data' || local === 'host' || (local === 'user' && host)) && (ns === undefined || PIE_NS.has(ns));
        if (!ok) fail(`this is not a XEP-0227 file: the root element is <${name}${ns ? ` xmlns='${ns}'` : ''}>, expected <server-data xmlns='${NS_PIE}'>`);
      }
      if (!frame.skip) {
        if (local === 'include' && ns === NS_XINCLUDE) {
          if (attrs.href) queue.push({ kind: 'include', href: attrs.href, host: frame.host });
          else this.v.warn(`${shown}: <xi:include> without href ignored`);
          frame.skip = true; // <xi:fallback> and the like
        } else if (local === 'host' && (parent === undefined || parent.local === 'server-data')) {
          if (!attrs.jid) fail('<host> without a jid attribute');
          frame.host = attrs.jid!;
        } else if (local === 'user' && frame.host && (parent === undefined || parent.local === 'host')) {
          userRoot = building = xml(name, attrs);
          userBytes = attrBytes(attrs);
          return;
        } else if (!(local === 'server-data' && parent === undefined)) {
          this.v.warn(`${shown}: <${name}> ${frame.host ? `in host ${frame.host}` : 'at the top level'} is not part of XEP-0227; skipped`);
          frame.skip = true;
        }
      }
      frames.push(frame);
    });
    sax.on('endElement', () => {
      depth--;
      if (discard) {
        if (--discard.depth === 0) {
          this.v.skip(discard.host, discard.name, `larger than ${max_user_bytes} bytes (import_limits.max_user_bytes)`);
          discard = null;
          if (frames.length === 0) rootClosed = true;
        }
        return;
      }
      if (building) {
        if (building === userRoot) {
          queue.push({ kind: 'user', host: top()?.host ?? host!, el: userRoot });
          building = userRoot = null;
          if (frames.length === 0) rootClosed = true;
        } else {
          building = building.parent;
        }
        return;
      }
      frames.pop();
      if (frames.length === 0) rootClosed = true;
    });
    sax.on('text', (text: string) => {
      if (discard) return;
      if (building) {
        userBytes += text.length;
        building.t(text);
        if (userBytes > max_user_bytes) userTooBig();
      } else if (text.trim()) {
        if (!rootSeen) notPie('it is not XML (text before the first element)');
        if (!top()?.skip) this.v.warn(`${shown}: text outside <user> ignored`);
      }
    });

    const cancelled = () => {
      if (this.o.signal?.aborted) throw new CommandError('the import was cancelled (the requester went away); the users read so far were imported');
    };
    const drain = async () => {
      while (queue.length) {
        cancelled();
        const item = queue.shift()!;
        if (item.kind === 'user') {
          await this.v.user(item.host, item.el);
          await nextTick(); // logins and stanzas run between users
        } else await this.include(file, item.href, item.host);
      }
    };

    // ltx re-reads an unfinished text node or attribute character by character on every write: it is
    // given text only up to the last '<' seen, so each character reaches it once (the rest waits here).
    let pending = '';
    const parse = (text: string, final = false) => {
      try {
        guard.check(text);
        const lt = final ? text.length : text.lastIndexOf('<');
        if (lt < 0) {
          pending += text;
          return;
        }
        const ready = pending + text.slice(0, lt);
        pending = text.slice(lt);
        sax.write(ready);
      } catch (err) {
        if (err instanceof CommandError) throw err;
        if (err instanceof MarkupError) {
          if (/^DTD/.test(err.message)) notPie(err.message);
          fail(err.message);
        }
        if (!rootSeen) notPie(`it is not XML (${(err as Error).message})`);
        fail(`not well-formed XML: ${(err as Error).message}`); // ltx throws on unknown entities
      }
    };

    let first = true;
    let sawMarkup = false;
    try {
      for await (const chunk of input) {
        cancelled();
        this.total += (chunk as Buffer).length;
        if (this.total > max_bytes) {
          fail(`the import is larger than ${max_bytes} bytes (import_limits.max_bytes); the users read so far were imported, the rest was not read`);
        }
        let s: string;
        try {
          s = decoder.decode(chunk as Buffer, { stream: true });
        } catch {
          if (!rootSeen) notPie('it is not XML (not UTF-8 text)');
          fail('the file is not valid UTF-8');
        }
        if (first && s!.charCodeAt(0) === 0xfeff) s = s!.slice(1);
        first = false;
        if (!sawMarkup) {
          // XML starts with markup (XML 1.0 §2.1: prolog, then the root element); anything else is another format.
          const lt = s!.indexOf('<');
          if (/\S/.test(lt < 0 ? s! : s!.slice(0, lt))) notPie('it is not XML (text before the first element)');
          sawMarkup = lt >= 0;
        }
        parse(cdata.push(s!));
        offset += (chunk as Buffer).length;
        await drain(); // the stream stays paused meanwhile: at most one chunk's users wait here
      }
    } finally {
      input.destroy();
    }
    parse(cdata.end(), true);
    await drain();
    if (!rootSeen) notPie('it holds no XML element (empty file?)');
    if (!rootClosed || building || discard) fail('the file ends before its root element is closed (truncated?)');
  }

  private async include(from: string, href: string, host: string | null): Promise<void> {
    const shown = this.label(from);
    if (/^[a-z][a-z0-9+.-]*:/i.test(href) && !href.startsWith('file:')) {
      this.v.warn(`${shown}: <xi:include href='${href}'> is not a local file; skipped`);
      return;
    }
    let path: string;
    try {
      path = decodeURIComponent(href.replace(/^file:(\/\/)?/, ''));
    } catch {
      this.v.warn(`${shown}: <xi:include href='${href}'> is not a valid file name; skipped`);
      return;
    }
    // Exports include their siblings; anything outside the import directory (by name, or through a
    // symbolic link) is refused.
    const target = await this.within(resolve(dirname(from), path), `${shown}: <xi:include href='${href}'>`);
    if (target) await this.readFile(target, host);
  }
}
