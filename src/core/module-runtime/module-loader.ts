// Loads external modules (module_paths) and, for `module reload`, their current code in all of their files:
// the module's package is copied beside the original under a fresh name and imported from there, so Node's
// ESM cache (keyed by URL) builds a whole new module graph instead of re-running only the entry file.
// Node never frees a module graph: a reload whose files are unchanged (new options only) reuses the running
// graph, so memory grows only with the number of code versions actually loaded.
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

interface Located { entry: string; root: string; dir: boolean }

/** Per process, not per loader: a copy's URL must never repeat, or Node would answer from its cache. */
let seq = 0;

export class ModuleLoader {
  /** name -> the copy the running code was imported from (deleted when a newer copy replaces it). */
  private readonly copies = new Map<string, string>();
  /** name -> the running code's namespace and the fingerprint of the files it was imported from. */
  private readonly running = new Map<string, { fingerprint: string; ns: Record<string, unknown> }>();

  /** `<path>/<name>/dist/index.js`, `<path>/<name>/index.js` (a package) or `<path>/<name>.js` (one file). */
  locate(name: string, paths: string[]): Located | undefined {
    for (const dir of paths) {
      const pkg = join(dir, name);
      for (const entry of [join(pkg, 'dist', 'index.js'), join(pkg, 'index.js')]) {
        if (existsSync(entry)) return { entry, root: pkg, dir: true };
      }
      const file = join(dir, `${name}.js`);
      if (existsSync(file)) return { entry: file, root: file, dir: false };
    }
    return undefined;
  }

  /**
   * Import a module's namespace. Not fresh: the original files (Node's cache answers again). Fresh: copy the
   * package (node_modules linked, not copied) to `.<name>.reload-<pid>-<n>` in the same directory, so relative
   * imports and package lookups resolve as from the original, and import that copy.
   */
  async import(name: string, loc: Located, fresh: boolean): Promise<Record<string, unknown>> {
    const fingerprint = fingerprintOf(loc);
    const current = this.running.get(name);
    if (current && current.fingerprint === fingerprint) return current.ns; // same code: no new graph
    if (!fresh) {
      const ns = (await import(pathToFileURL(loc.entry).href)) as Record<string, unknown>;
      if (!current) this.running.set(name, { fingerprint, ns });
      return ns;
    }
    const parent = dirname(loc.root);
    const copy = join(parent, `.${name}.reload-${process.pid}-${++seq}${loc.dir ? '' : '.js'}`);
    try {
      if (loc.dir) {
        cpSync(loc.root, copy, { recursive: true, filter: (src) => !(basename(src) === 'node_modules' && statSync(src).isDirectory()) });
        if (existsSync(join(loc.root, 'node_modules'))) symlinkSync(join(loc.root, 'node_modules'), join(copy, 'node_modules'), 'dir');
      } else {
        cpSync(loc.root, copy);
      }
    } catch (err) {
      rmSync(copy, { recursive: true, force: true });
      throw new Error(`cannot copy ${loc.root} to ${copy} to load its current code (module_paths directories must be writable for reloads): ${(err as Error).message}`);
    }
    const entry = loc.dir ? join(copy, loc.entry.slice(loc.root.length + 1)) : copy;
    try {
      const ns = (await import(pathToFileURL(entry).href)) as Record<string, unknown>;
      this.forget(name);
      this.copies.set(name, copy);
      this.running.set(name, { fingerprint, ns });
      return ns;
    } catch (err) {
      rmSync(copy, { recursive: true, force: true });
      throw err;
    }
  }

  /** Delete a module's copy (on unload, and when a newer copy replaces it). */
  forget(name: string): void {
    const c = this.copies.get(name);
    if (c) rmSync(c, { recursive: true, force: true });
    this.copies.delete(name);
  }

  /** Delete every copy this process made, and leftovers of processes that are gone (same naming). */
  cleanup(paths: string[]): void {
    for (const name of [...this.copies.keys()]) this.forget(name);
    for (const dir of paths) {
      let names: string[] = [];
      try {
        names = readdirSync(dir);
      } catch {
        continue;
      }
      for (const n of names) {
        const m = /^\.[a-z0-9][a-z0-9_-]*\.reload-(\d+)-\d+(\.js)?$/.exec(n);
        if (m && !alive(Number(m[1]))) rmSync(join(dir, n), { recursive: true, force: true });
      }
    }
  }
}

/** A hash of the module's files (paths and contents; node_modules and reload copies left out). */
function fingerprintOf(loc: Located): string {
  const h = createHash('sha256');
  const walk = (path: string, rel: string): void => {
    const st = statSync(path);
    if (st.isDirectory()) {
      for (const n of readdirSync(path).sort()) {
        if (n === 'node_modules' || n.startsWith('.')) continue;
        walk(join(path, n), `${rel}/${n}`);
      }
    } else if (st.isFile()) {
      h.update(`${rel}\0${st.size}\0`).update(readFileSync(path));
    }
  };
  walk(loc.root, '');
  return h.digest('hex');
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
