// slixmpp 1.8.3 (Debian python3-slixmpp) with its stock xep_0048, xep_0084 and xep_0054 plugins against the
// bookmarks module and the vCard avatar conversion (test/e2e/slixmpp/pep_compat.py); on every host.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import { forEachHost, HOSTS } from '../../test/support/each-host.js';
import { runSlixmppOk, slixmppTestOptions as opts } from '../../test/support/slixmpp.js';

const SCRIPTS = fileURLToPath(new URL('../../../test/e2e/slixmpp/', import.meta.url));
/** A 1x1 PNG: what the avatar plugin uploads is opaque bytes to it, any real image will do. */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');

let t: TestServer;
let dir: string;
before(async () => {
  if (opts.skip) return;
  t = await startTestServer({ modules: { disco: {}, roster: {}, presence: {}, private: {}, pep: {}, vcard: {}, bookmarks: {} } });
  for (const host of HOSTS) await t.addUser('slix', 'pw-slix', host);
  dir = await mkdtemp(join(tmpdir(), 'xmppd-slix-avatar-'));
  await writeFile(join(dir, 'avatar.png'), PNG);
});
after(async () => {
  await t?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

forEachHost((host) => {
  test('slixmpp stores bookmarks with xep_0048 (private XML, then PEP) and an avatar with xep_0084: the server shows them as XEP-0402 items and the vCard PHOTO', opts, async () => {
    const r = await runSlixmppOk(join(SCRIPTS, 'pep_compat.py'), [t.c2sPort, `slix@${host}/compat`, 'pw-slix', join(dir, 'avatar.png')], SCRIPTS);
    assert.deepEqual(r.one('native_after_private').items, { [`lobby@conference.${host}`]: { name: 'Lobby', autojoin: 'true', nick: 'slix' } }, r.transcript);
    const read = r.one('private_read');
    assert.deepEqual(read.conferences, [{ jid: `lobby@conference.${host}`, name: 'Lobby', nick: 'slix', autojoin: true }], r.transcript);
    assert.deepEqual(read.urls, ['https://example.org/'], r.transcript);
    assert.deepEqual(r.one('native_after_pep').items, { [`cellar@conference.${host}`]: { name: 'Cellar', autojoin: null, nick: 'slix2' } }, r.transcript);
    const photo = r.one('vcard_photo');
    assert.equal(photo.avatar_id, createHash('sha1').update(PNG).digest('hex'));
    assert.equal(photo.photo_sha1, photo.avatar_id, r.transcript);
  });
});
