// `xmppd module reload` runs the module's current code in all of its files (issue 9): a change in a
// non-entry file of an external module is picked up on every host, old copies are deleted, and a
// single-file module reloads too.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from '../../src/core/admin/commands.js';
import { startTestServer, TWO_HOSTS, type TestServer } from '../support/harness.js';
import { RawClient } from '../support/raw-client.js';

const FIXTURE = fileURLToPath(new URL('../../../test/fixtures/external-modules/twofile', import.meta.url));
const HOSTS = TWO_HOSTS.hosts as string[];

let paths: string;
let srv: TestServer;
before(async () => {
  paths = await mkdtemp(join(tmpdir(), 'xmppd-modpaths-'));
  await cp(FIXTURE, join(paths, 'twofile'), { recursive: true });
  await writeFile(join(paths, 'solo.js'), soloSource('first'));
  srv = await startTestServer({ ...TWO_HOSTS, module_paths: [paths], modules: { disco: {}, twofile: {}, solo: {} } });
  for (const h of HOSTS) await srv.addUser('alice', 'alice-pw', h);
});
after(async () => {
  await srv?.stop();
  await rm(paths, { recursive: true, force: true });
});

function soloSource(word: string): string {
  return `export default { name: 'solo', start(ctx) { ctx.feature('urn:example:solo:${word}'); } };\n`;
}

/** Alice on `host` asks her server for disco#info (XEP-0030): the features it advertises. */
async function features(host: string): Promise<string[]> {
  const { c } = await RawClient.login(srv.c2sPort, 'alice', 'alice-pw', 'disco', { host });
  try {
    c.send(`<iq type='get' id='d1' to='${host}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    const [iq] = await c.expect(/<iq[^>]*id=["']d1["'][\s\S]*?<\/iq>/);
    return [...iq!.matchAll(/<feature var=["']([^"']+)["']/g)].map((m) => m[1]!).filter((f) => f.startsWith('urn:example:'));
  } finally {
    c.close();
  }
}

const copies = async () => (await readdir(paths)).filter((n) => n.includes('.reload-')).sort();

test('module reload picks up a change in the non-entry file of a two-file module, on both hosts', async () => {
  for (const h of HOSTS) assert.ok((await features(h)).includes('urn:example:twofile:one'), h);
  await writeFile(join(paths, 'twofile', 'word.js'), "export const WORD = 'two';\nexport const pad = '';\n");
  await runCommand({ core: srv.server.core, modules: srv.server.modules }, 'module.reload', { name: 'twofile' }); // `xmppd module reload twofile`
  for (const h of HOSTS) {
    const f = await features(h);
    assert.ok(f.includes('urn:example:twofile:two'), `${h}: the new word.js runs`);
    assert.ok(!f.includes('urn:example:twofile:one'), `${h}: the old code is gone`);
  }
  assert.deepEqual(srv.server.modules.info('twofile')!.hosts, HOSTS);

  await writeFile(join(paths, 'twofile', 'word.js'), "export const WORD = 'three';\nexport const pad = '';\n");
  await srv.server.modules.reload('twofile');
  assert.ok((await features('example.test')).includes('urn:example:twofile:three'));
  const left = (await copies()).filter((n) => n.startsWith('.twofile.'));
  assert.equal(left.length, 1, `only the running copy is kept: ${left.join(', ')}`);
});

test('a reload with unchanged files (new options only) reuses the running code: no new module graph, no new copy', async () => {
  const before = await copies();
  const defBefore = srv.server.modules.current('twofile')!.def;
  for (let i = 0; i < 5; i++) await srv.server.modules.reload('twofile');
  assert.equal(srv.server.modules.current('twofile')!.def, defBefore, 'the same definition object: the same module graph');
  assert.deepEqual(await copies(), before, 'no copy was made');
  assert.ok((await features('localhost')).includes('urn:example:twofile:three'));
});

test('a single-file module (<module_path>/<name>.js) reloads its current code', async () => {
  assert.ok((await features('localhost')).includes('urn:example:solo:first'));
  await writeFile(join(paths, 'solo.js'), soloSource('second'));
  await srv.server.modules.reload('solo');
  const f = await features('localhost');
  assert.ok(f.includes('urn:example:solo:second') && !f.includes('urn:example:solo:first'), f.join(' '));
  await srv.server.modules.unload('solo');
  assert.deepEqual((await copies()).filter((n) => n.startsWith('.solo.')), [], 'unload deletes the copy');
});

test('a reload whose new code fails to import leaves the module running its old code', async () => {
  await writeFile(join(paths, 'twofile', 'word.js'), 'export const WORD = ;\n');
  await assert.rejects(srv.server.modules.reload('twofile'), SyntaxError);
  assert.ok((await features('localhost')).includes('urn:example:twofile:three'));
  assert.equal(srv.server.modules.info('twofile')!.status, 'running');
  assert.equal((await copies()).filter((n) => n.startsWith('.twofile.')).length, 1, 'the failed copy is deleted');
});
