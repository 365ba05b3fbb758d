// XEP-0363 interop with slixmpp 1.8.3 (Debian python3-slixmpp, /usr/bin/python3): the xep_0363 plugin's
// upload_file(), with its upload_service option set (its own discovery is broken on Python 3.11, see
// upload.py), gets a slot and PUTs a picture over HTTP (aiohttp); the test fetches the URL it reports.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { TestServer } from '../../test/support/harness.js';
import { HOSTS } from '../../test/support/each-host.js';
import { runSlixmppOk, slixmppTestOptions as opts } from '../../test/support/slixmpp.js';
import { startUploadServer } from './test-support.js';

const SCRIPT = fileURLToPath(new URL('../../../modules/upload/slixmpp/upload.py', import.meta.url));

describe('slixmpp 1.8.3 xep_0363 against xmppd', () => {
  let t: TestServer;
  let files: string;
  before(async () => {
    if (opts.skip) return;
    t = await startUploadServer({ max_file_size: 100_000 });
    files = await mkdtemp(join(tmpdir(), 'xmppd-upload-files-'));
    for (const host of HOSTS) await t.addUser('alice', 'alice-password', host);
  });
  after(async () => {
    await t?.stop();
    if (files) await rm(files, { recursive: true, force: true });
  });

  for (const host of HOSTS) {
    test(`on ${host}: upload_file() uploads a picture the test fetches back`, opts, async () => {
      const body = randomBytes(30_000);
      const path = join(files, `photo-${host}.png`);
      await writeFile(path, body);
      const s = await runSlixmppOk(SCRIPT, [t.c2sPort, `alice@${host}/slix`, 'alice-password', path]);
      const up = s.one('uploaded');
      assert.equal(up.service, `upload.${host}`, s.transcript);
      const url = up.url as string;
      assert.ok(url.endsWith(`/photo-${host}.png`), url);
      const res = await fetch(url);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'image/png', 'the type slixmpp guessed from the name');
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), body);
    });
  }
});
