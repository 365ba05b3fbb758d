// The layers (DESIGN.md "Layers and folders"): nothing under src/core, src/interface or src/data imports
// from the bundled modules in modules/ — the core owns contracts (hooks/, src/core/services/) and modules
// fulfil them. Only the composition root (src/main.ts, src/cli) may list the bundled modules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const MODULES = join(ROOT, 'modules');
const LAYERS = ['src/core', 'src/interface', 'src/data'];
/** Static imports and re-exports, side-effect imports and dynamic imports of a literal path. */
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"]([^'"]+)['"]/g;

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Each import of `file` that resolves into modules/, as "file: specifier". */
function moduleImports(file: string, text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(SPECIFIER)) {
    const spec = m[1]!;
    if (!spec.startsWith('.')) continue;
    const target = resolve(dirname(file), spec);
    if (target === MODULES || target.startsWith(MODULES + sep)) found.push(`${relative(ROOT, file)}: ${spec}`);
  }
  return found;
}

test('nothing under src/core, src/interface or src/data imports from modules/', () => {
  const files = LAYERS.flatMap((d) => sources(join(ROOT, d)));
  assert.ok(files.length > 50, `the sources were found (${files.length} files under ${ROOT})`);
  const found = files.flatMap((f) => moduleImports(f, readFileSync(f, 'utf8')));
  assert.deepEqual(found, []);
});

test('the check recognises an import into modules/ in every form, and not one of src/core/module-runtime', () => {
  const file = join(ROOT, 'src/core/admin/x.ts');
  assert.equal(moduleImports(file, "import type { OfflineApi } from '../../../modules/offline/api.js';").length, 1);
  assert.equal(moduleImports(file, "export { x } from '../../../modules/index.js';").length, 1);
  assert.equal(moduleImports(file, "const m = await import('../../../modules/mam/index.js');").length, 1);
  assert.equal(moduleImports(file, "import type { ModuleManager } from '../module-runtime/module-manager.js';").length, 0);
  assert.equal(moduleImports(file, "import xml from '@xmpp/xml';").length, 0);
});
