#!/usr/bin/env node
// RSS over N `module reload`s of a two-file external module (issue 9): each reload imports a fresh copy of
// the package (module-loader.ts), and Node never frees an ESM module graph, so this measures what stays.
//   npm run build && node --expose-gc test/bench/module-reload-rss.mjs [--reloads 50] [--pad 65536] [--unchanged 1]
// --unchanged 1: reload without touching the files (an options change): the running graph is reused.
// Each reload rewrites word.js (a new WORD and a string of --pad bytes) so every graph holds new code and data.
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const arg = (k, d) => { const i = process.argv.indexOf(`--${k}`); return i > 0 ? Number(process.argv[i + 1]) : d; };
const RELOADS = arg('reloads', 50);
const PAD = arg('pad', 65536);
const UNCHANGED = arg('unchanged', 0) === 1;
const dist = fileURLToPath(new URL('../../dist/', import.meta.url));
const { startTestServer, TWO_HOSTS } = await import(join(dist, 'test/support/harness.js'));
if (!global.gc) throw new Error('run with node --expose-gc');

const paths = mkdtempSync(join(tmpdir(), 'xmppd-rss-'));
cpSync(fileURLToPath(new URL('../fixtures/external-modules/twofile', import.meta.url)), join(paths, 'twofile'), { recursive: true });
const srv = await startTestServer({ ...TWO_HOSTS, module_paths: [paths], modules: { disco: {}, twofile: {} } });
const mb = (b) => (b / 1048576).toFixed(1);
const measure = async () => {
  for (let i = 0; i < 3; i++) { global.gc(); await new Promise((r) => setTimeout(r, 20)); }
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
};
// Warm up: the first reloads allocate code caches and pools that are not per reload.
for (let i = 0; i < 5; i++) await srv.server.modules.reload('twofile');
const base = await measure();
console.log(`reloads rss_MB heapUsed_MB (pad ${PAD} bytes per graph, ${TWO_HOSTS.hosts.length} hosts)`);
console.log(`0 ${mb(base.rss)} ${mb(base.heap)}`);
let last = base;
for (let i = 1; i <= RELOADS; i++) {
  if (!UNCHANGED) writeFileSync(join(paths, 'twofile', 'word.js'), `export const WORD = 'w${i}';\nexport const pad = ${JSON.stringify('x'.repeat(PAD - 1) + (i % 10))};\n`);
  await srv.server.modules.reload('twofile');
  if (i % 10 === 0) { last = await measure(); console.log(`${i} ${mb(last.rss)} ${mb(last.heap)}`); }
}
const per = (k) => ((last[k] - base[k]) / RELOADS / 1024).toFixed(1);
console.log(`per reload: rss ${per('rss')} KB, heapUsed ${per('heap')} KB`);
await srv.stop();
rmSync(paths, { recursive: true, force: true });
