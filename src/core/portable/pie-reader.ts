// Streams XEP-0227 files: <server-data>/<host>/<user>, one <user> element at a time, so a large export is
// never held in memory. Follows XInclude (ejabberd's export_piefxis writes a main file that includes one
// file per host) and reads a directory of files (Prosody's migrator writes one file per user).
import { readdir, realpath, stat } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import SaxLtx from 'ltx/lib/parsers/ltx.js';
import xml from '@xmpp/xml';
import type { Element } from '@xmpp/xml';
import { CommandError } from '../admin/command-def.js';
import { openInFile } from './file-io.js';
import { CdataToText } from './cdata-text.js';
import { NS_PIE, NS_PIE_OLD, NS_XINCLUDE } from './pie-format.js';

export interface PieVisitor {
  /** A complete <user> of <host jid=host>, detached from the document. */
  user(host: string, el: Element): Promise<void>;
  warn(msg: string): void;
}

type Item = { kind: 'user'; host: string; el: Element } | { kind: 'include'; href: string; host: string | null };

/** An element we are inside but do not build: the document structure, or something skipped. */
interface Frame { local: string; host: string | null; decls: Record<string, string>; skip: boolean }

const PIE_NS = new Set([NS_PIE, NS_PIE_OLD]);
/** Nesting inside one <user>: real data needs a handful of levels; serializing 100k levels overflows the stack. */
const MAX_USER_DEPTH = 1000;
const localOf = (name: string) => name.slice(name.indexOf(':') + 1);
const prefixOf = (name: string) => (name.includes(':') ? name.slice(0, name.indexOf(':')) : '');

export class PieReader {
  private readonly seen = new Set<string>();
  readonly files: string[] = [];

  constructor(private readonly v: PieVisitor) {}

  /** A file, or every *.xml / *.xml.gz file of a directory (files another one includes are read once). */
  async read(path: string): Promise<void> {
    let st;
    try {
      st = await stat(path);
    } catch {
      throw new CommandError(`cannot read ${path}: no such file or directory`, 'not-found');
    }
    if (!st.isDirectory()) return this.readFile(path, null);
    const names = (await readdir(path)).filter((n) => /\.xml(\.gz)?$/.test(n) && !n.startsWith('.')).sort();
    if (!names.length) throw new CommandError(`${path} holds no .xml files`, 'not-found');
    // Main files first: a file that only holds an included <host> is then already read when its turn comes.
    const roots = await Promise.all(names.map(async (n) => ({ n, root: await this.rootName(join(path, n)) })));
    for (const { n } of [...roots.filter((r) => r.root !== 'host'), ...roots.filter((r) => r.root === 'host')]) {
      await this.readFile(join(path, n), null);
    }
  }

  private async rootName(file: string): Promise<string> {
    const input = await openInFile(file);
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
    const real = await realpath(file).catch(() => resolve(file));
    if (this.seen.has(real)) return;
    this.seen.add(real);
    this.files.push(file);
    const input = await openInFile(file);
    const sax = new SaxLtx();
    const decoder = new TextDecoder('utf-8', { fatal: true });
    const cdata = new CdataToText();
    const frames: Frame[] = [];
    const queue: Item[] = [];
    let building: Element | null = null; // innermost open element inside a <user>
    let buildDepth = 0; // levels of `building` below the <user>
    let userRoot: Element | null = null;
    let rootSeen = false;
    let rootClosed = false;
    let offset = 0;

    const fail = (what: string): never => {
      throw new CommandError(`${file}: ${what} (near byte ${offset})`, 'invalid');
    };
    const top = () => frames[frames.length - 1];
    const resolveNs = (name: string, attrs: Record<string, string>): string | undefined => {
      const p = prefixOf(name);
      const attr = p ? `xmlns:${p}` : 'xmlns';
      if (attrs[attr] !== undefined) return attrs[attr];
      for (let i = frames.length - 1; i >= 0; i--) if (frames[i]!.decls[attr] !== undefined) return frames[i]!.decls[attr];
      return undefined;
    };

    sax.on('startElement', (name: string, attrs: Record<string, string>) => {
      if (building) {
        if (++buildDepth > MAX_USER_DEPTH) fail(`elements nested more than ${MAX_USER_DEPTH} levels deep in a <user>`);
        building = building.cnode(xml(name, attrs));
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
          else this.v.warn(`${file}: <xi:include> without href ignored`);
          frame.skip = true; // <xi:fallback> and the like
        } else if (local === 'host' && (parent === undefined || parent.local === 'server-data')) {
          if (!attrs.jid) fail('<host> without a jid attribute');
          frame.host = attrs.jid!;
        } else if (local === 'user' && frame.host && (parent === undefined || parent.local === 'host')) {
          userRoot = building = xml(name, attrs);
          return;
        } else if (!(local === 'server-data' && parent === undefined)) {
          this.v.warn(`${file}: <${name}> ${frame.host ? `in host ${frame.host}` : 'at the top level'} is not part of XEP-0227; skipped`);
          frame.skip = true;
        }
      }
      frames.push(frame);
    });
    sax.on('endElement', () => {
      if (building) {
        if (building === userRoot) {
          queue.push({ kind: 'user', host: top()?.host ?? host!, el: userRoot });
          building = userRoot = null;
          if (frames.length === 0) rootClosed = true;
        } else {
          building = building.parent;
          buildDepth--;
        }
        return;
      }
      frames.pop();
      if (frames.length === 0) rootClosed = true;
    });
    sax.on('text', (text: string) => {
      if (building) building.t(text);
      else if (text.trim() && !top()?.skip) this.v.warn(`${file}: text outside <user> ignored`);
    });

    const drain = async () => {
      while (queue.length) {
        const item = queue.shift()!;
        if (item.kind === 'user') await this.v.user(item.host, item.el);
        else await this.include(file, item.href, item.host);
      }
    };

    let first = true;
    try {
      for await (const chunk of input) {
        let s: string;
        try {
          s = decoder.decode(chunk as Buffer, { stream: true });
        } catch {
          fail('the file is not valid UTF-8');
        }
        if (first && s!.charCodeAt(0) === 0xfeff) s = s!.slice(1);
        first = false;
        try {
          sax.write(cdata.push(s!));
        } catch (err) {
          if (err instanceof CommandError) throw err;
          fail(`not well-formed XML: ${(err as Error).message}`); // ltx throws on unknown entities
        }
        offset += (chunk as Buffer).length;
        await drain(); // the stream stays paused meanwhile: at most one chunk's users wait here
      }
    } finally {
      input.destroy();
    }
    try {
      sax.write(cdata.end());
    } catch (err) {
      fail(`not well-formed XML: ${(err as Error).message}`);
    }
    await drain();
    if (!rootSeen) fail('the file is empty');
    if (!rootClosed || building) fail('the file ends before its root element is closed (truncated?)');
  }

  private async include(from: string, href: string, host: string | null): Promise<void> {
    if (/^[a-z][a-z0-9+.-]*:/i.test(href) && !href.startsWith('file:')) {
      this.v.warn(`${from}: <xi:include href='${href}'> is not a local file; skipped`);
      return;
    }
    const dir = dirname(from);
    let path: string;
    try {
      path = decodeURIComponent(href.replace(/^file:(\/\/)?/, ''));
    } catch {
      // A bad %-escape (href='%ZZ') made decodeURIComponent throw a URIError out of read().
      this.v.warn(`${from}: <xi:include href='${href}'> is not a valid URI reference; skipped`);
      return;
    }
    const target = resolve(dir, path);
    // Exports include their siblings; anything outside the file's directory is refused.
    if (!target.startsWith(resolve(dir) + sep)) {
      this.v.warn(`${from}: <xi:include href='${href}'> points outside ${dir}; skipped`);
      return;
    }
    await this.readFile(target, host);
  }
}
