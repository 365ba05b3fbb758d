// A full disk refuses writes and corrupts nothing: xmppd with its data_dir on a small tmpfs, the
// filesystem filled up, then in-band registration (XEP-0077), an offline message (XEP-0160) and a
// vCard set (XEP-0054) are answered with <resource-constraint/> and a text (RFC 6120 §8.3.3.18), the
// operator gets a log line, reads and other sessions go on; after space is freed and a restart,
// everything acknowledged before is there and LevelDB recovered without dropping anything.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { mkdtemp, readFile, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '../../src/core/log.js';
import { startTestServer, type TestServer } from '../support/harness.js';
import { RawClient } from '../support/raw-client.js';
import { expectIq, securedStream } from '../../modules/register/test-support.js';

const PW = 'disk-full-pw';
const OVERRIDES = { limits: { registrations_per_ip_per_hour: 0 } };

/** Mounts an 8 MiB tmpfs, unmounted after `cleanup` (the server must be gone first); null where this process may not mount. */
async function smallFilesystem(t: TestContext, cleanup: () => Promise<void>): Promise<string | null> {
  const dir = await mkdtemp(join(tmpdir(), 'xmppd-diskfull-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0700', 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    await rmdir(dir);
    const why = `cannot mount a tmpfs (${String((err as { stderr?: Buffer }).stderr ?? err).trim()}); run as root`;
    if (process.env.CI === 'true') assert.fail(why);
    t.skip(why);
    return null;
  }
  t.after(async () => {
    await cleanup().catch(() => undefined);
    try {
      execFileSync('umount', [dir], { stdio: 'pipe' });
    } catch {
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' }); // something still holds it: detach it anyway
    }
    await rmdir(dir);
  });
  return dir;
}

/** Writes a file until the filesystem is full (ENOSPC). */
function fill(file: string): void {
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) {
      try {
        writeSync(fd, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
        if (chunk.length === 1) return;
        // Fill the last bytes too, so the next write of the store meets ENOSPC.
        return fillRest(fd);
      }
    }
  } finally {
    closeSync(fd);
  }
}
function fillRest(fd: number): void {
  for (const size of [4096, 512, 1]) {
    const b = Buffer.alloc(size, 1);
    for (;;) {
      try {
        writeSync(fd, b);
      } catch {
        break;
      }
    }
  }
}

async function register(port: number, user: string): Promise<string> {
  const { c } = await securedStream(port);
  c.send(`<iq type='set' id='reg'><query xmlns='jabber:iq:register'><username>${user}</username><password>${PW}</password></query></iq>`);
  const r = await expectIq(c, 'reg', 20_000);
  c.close();
  return r;
}

const ping = (c: RawClient, id: string) => c.iq(id, `<iq type='get' id='${id}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
const vcardSet = (c: RawClient, id: string, fn: string) => c.iq(id, `<iq type='set' id='${id}'><vCard xmlns='vcard-temp'><FN>${fn}</FN></vCard></iq>`);
const vcardGet = (c: RawClient, id: string) => c.iq(id, `<iq type='get' id='${id}'><vCard xmlns='vcard-temp'/></iq>`);
const REFUSED = /<error type=["']wait["']><resource-constraint xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']\/><text[^>]*>[^<]*storage[^<]*<\/text><\/error>/;

test('a full disk: writes are refused with resource-constraint, reads and sessions go on, nothing is lost or corrupted', async (t) => {
  let srv: TestServer | null = null;
  const fs = await smallFilesystem(t, async () => { await srv?.stop(); });
  if (fs === null) return;
  const dir = join(fs, 'data');
  const logged: string[] = [];
  const log = () => new Logger('error', {}, (line) => logged.push(line), false);
  srv = await startTestServer(OVERRIDES, { dir, log: log() });

  // Before the disk fills: accounts, a vCard and offline messages for bob, all acknowledged.
  const accounts = ['alice', 'bob', 'carol'];
  for (const u of accounts) assert.match(await register(srv.c2sPort, u), /type=["']result["']/);
  const { c: alice } = await RawClient.login(srv.c2sPort, 'alice', PW, 'a', { presence: false });
  assert.match(await vcardSet(alice, 'v1', 'Alice Before'), /type=["']result["']/);
  const stored: string[] = [];
  for (let i = 0; i < 5; i++) {
    alice.send(`<message to='bob@localhost' type='chat' id='before${i}'><body>before ${i}</body></message>`);
    stored.push(`before ${i}`);
  }
  assert.match(await ping(alice, 'p0'), /type=["']result["']/);
  assert.doesNotMatch(alice.buffer, /type=["']error["']/);

  assert.match(await srv.server.core.metrics.registry.metrics(), /^xmppd_storage_writable 1$/m);
  fill(join(fs, 'filler'));

  // Registrations until one is refused: a few may still fit in space LevelDB's log already holds.
  let refusal: string | undefined;
  for (let i = 0; i < 200 && refusal === undefined; i++) {
    const r = await register(srv.c2sPort, `late${i}`);
    if (/type=["']result["']/.test(r)) accounts.push(`late${i}`);
    else refusal = r;
  }
  assert.ok(refusal, 'a registration was refused');
  assert.match(refusal, REFUSED);
  t.diagnostic(`${accounts.length - 3} registrations still fitted after the disk filled; then: ${refusal}`);

  // An offline message: the sender hears that it was not stored.
  alice.send("<message to='bob@localhost' type='chat' id='lost'><body>not stored</body></message>");
  const bounced = (await alice.expect(/<message[^>]*id=["']lost["'][\s\S]*?<\/message>/, 10_000))[0];
  assert.match(bounced, /type=["']error["']/);
  assert.match(bounced, REFUSED);
  // A vCard set is refused; the stored vCard is still served (reads go on).
  assert.match(await vcardSet(alice, 'v2', 'Alice After'), REFUSED);
  assert.match(await vcardGet(alice, 'v3'), /<FN>Alice Before<\/FN>/);
  // Other sessions: carol logs in and talks to alice, the server answers pings.
  const { c: carol } = await RawClient.login(srv.c2sPort, 'carol', PW, 'c');
  alice.send('<presence/>');
  carol.send("<message to='alice@localhost/a' type='chat' id='live'><body>still here</body></message>");
  await alice.expect(/<message[^>]*id=["']live["'][\s\S]*?still here[\s\S]*?<\/message>/, 10_000);
  assert.match(await ping(carol, 'p1'), /type=["']result["']/);
  // The operator is told, with what to do.
  assert.ok(logged.some((l) => /storage write failed; the server refuses writes until it is restarted/.test(l) && /no space|ENOSPC|IO error/i.test(l)),
    `an operator log line about the failed write: ${logged.join('\n')}`);
  t.diagnostic(`operator log: ${logged.find((l) => /storage write failed/.test(l))}`);
  // and the metrics say so (an alert can watch it)
  assert.match(await srv.server.core.metrics.registry.metrics(), /^xmppd_storage_writable 0$/m);
  alice.close();
  carol.close();

  // Space freed, server restarted: everything acknowledged is there; LevelDB dropped nothing.
  await rm(join(fs, 'filler'));
  await srv.stop();
  srv = null;
  srv = await startTestServer(OVERRIDES, { dir, log: log() });
  const leveldbLog = await readFile(join(dir, 'db', 'LOG'), 'utf8');
  assert.doesNotMatch(leveldbLog, /dropping|corrupt/i, 'LevelDB recovered its log without dropping records');
  for (const u of accounts) {
    const { c } = await RawClient.login(srv.c2sPort, u, PW, undefined, { presence: false });
    c.close();
  }
  const { c: alice2 } = await RawClient.login(srv.c2sPort, 'alice', PW, 'a', { presence: false });
  assert.match(await vcardGet(alice2, 'v4'), /<FN>Alice Before<\/FN>/);
  const { c: bob } = await RawClient.login(srv.c2sPort, 'bob', PW, 'b', { presence: false });
  bob.send('<presence/>'); // offline delivery runs before the ping is answered
  bob.send("<iq type='get' id='p2' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
  const upTo = (await bob.expect(/^([\s\S]*?)<iq[^>]*id=["']p2["'][^>]*(?:\/>|>[\s\S]*?<\/iq>)/, 10_000))[1]!;
  const bodies = [...upTo.matchAll(/<message[\s\S]*?<body>([^<]*)<\/body>[\s\S]*?<\/message>/g)].map((m) => m[1]);
  assert.deepEqual(bodies, stored, 'bob gets every acknowledged offline message once, and not the refused one');
  // Writes work again.
  assert.match(await vcardSet(alice2, 'v5', 'Alice Again'), /type=["']result["']/);
  assert.match(await register(srv.c2sPort, 'after'), /type=["']result["']/);
  alice2.close();
  bob.close();
});
