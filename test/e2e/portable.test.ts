// XEP-0227 export and import between two real servers: data seeded over XMPP (roster with a pending
// request both ways, vCard with a photo, private storage, offline messages), exported, imported into a
// fresh server (twice: idempotent), compared, and used: logins with the old passwords through the exported
// SCRAM keys, offline delivery, roster/vCard/private reads. Also a hand-made file with what ejabberd and
// Prosody write (XInclude, double-base64 SCRAM, pending presence) and the error paths.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestServer, type TestServer } from '../support/harness.js';
import { RawClient } from '../support/raw-client.js';
import { login as loginWith } from './interop/xmpp-client.js';
import { admin, iq, messagesUntilSync, privateOf, rosterOf, vcardOf } from './portable-support.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/xep0227/', import.meta.url));
const PHOTO = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
const VCARD = `<vCard xmlns='vcard-temp'><FN>Alice Example</FN><NICKNAME>ali</NICKNAME><PHOTO><TYPE>image/png</TYPE><BINVAL>${PHOTO}</BINVAL></PHOTO></vCard>`;
const BOOKMARKS = "<storage xmlns='storage:bookmarks'><conference jid='room@muc.example' autojoin='true' name='R &amp; D'><nick>ali</nick></conference></storage>";

let tmp: string;
let a: TestServer; // the source
let b: TestServer; // a fresh server the export goes into
let fileA: string;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'xmppd-pie-'));
  a = await startTestServer();
  for (const u of ['alice', 'bob', 'carol']) await a.addUser(u, `pw-${u}`);

  // alice: roster item for bob (name, groups) and a subscription request to him, vCard, bookmarks.
  const alice = await RawClient.login(a.c2sPort, 'alice', 'pw-alice', 'seed');
  await iq(alice.c, "<query xmlns='jabber:iq:roster'><item jid='bob@localhost' name='Bobby'><group>Friends</group><group>Work</group></item></query>", 'set');
  alice.c.send("<presence to='bob@localhost' type='subscribe'/>");
  await iq(alice.c, VCARD, 'set');
  await iq(alice.c, `<query xmlns='jabber:iq:private'>${BOOKMARKS}</query>`, 'set');
  alice.c.close();
  // bob (alice is offline now): two messages, stored for her.
  const bob = await RawClient.login(a.c2sPort, 'bob', 'pw-bob', 'seed', { presence: false });
  bob.c.send("<message to='alice@localhost' type='chat' id='o1'><body>while you were out &lt;1&gt;</body></message>");
  bob.c.send("<message to='alice@localhost/gone' type='normal' id='o2'><subject>s</subject><body>second</body></message>");
  await iq(bob.c, "<ping xmlns='urn:xmpp:ping'/>");
  bob.c.close();
  assert.equal((await admin(a, 'offline.count', { jid: 'alice@localhost' })).count, 2);

  fileA = join(tmp, 'a.xml');
  b = await startTestServer();
});
after(async () => {
  await a?.stop();
  await b?.stop();
  await rm(tmp, { recursive: true, force: true });
});

test('export writes one XEP-0227 document with hashed credentials and every kind of data', async () => {
  const lines: string[] = [];
  const r = await admin(a, 'data.export', { file: fileA }, lines);
  assert.deepEqual(r.hosts, [{ host: 'localhost', users: 3 }, { host: 'example.test', users: 0 }], 'every host, an empty one too');
  assert.equal(r.users, 3);
  assert.equal(r.vcards, 1);
  assert.equal(r.privateElements, 1);
  assert.equal(r.offlineMessages, 2);
  assert.ok(lines.some((l) => /export: localhost: done, 3 users/.test(l)), lines.join('\n'));
  const text = await readFile(fileA, 'utf8');
  assert.match(text, /^<\?xml version='1.0' encoding='UTF-8'\?>\n<server-data xmlns='urn:xmpp:pie:0'>\n<host jid='localhost'>/);
  assert.equal(text.match(/<user /g)?.length, 3);
  for (const mech of ['SCRAM-SHA-256', 'SCRAM-SHA-1']) {
    assert.equal(text.match(new RegExp(`<scram-credentials xmlns=["']urn:xmpp:pie:0#scram["'] mechanism=["']${mech}["']><iter-count>\\d+</iter-count><salt>[^<]+</salt><server-key>[^<]+</server-key><stored-key>[^<]+</stored-key></scram-credentials>`, 'g'))?.length, 3, mech);
  }
  assert.doesNotMatch(text, /pw-alice|password=/, 'no plaintext passwords (xmppd never has them)');
  assert.match(text, /<item jid=["']bob@localhost["'] subscription=["']none["'] name=["']Bobby["'] ask=["']subscribe["']><group>Friends<\/group><group>Work<\/group><\/item>/);
  // bob has alice's request pending: written as Prosody does, a presence child of <user>
  assert.match(text, /<user name=["']bob["']>[^\n]*?<presence\b(?=[^>]*type=["']subscribe["'])(?=[^>]*from=["']alice@localhost["'])(?=[^>]*xmlns=["']jabber:client["'])[^\n]*<\/user>/);
  assert.match(text, /<offline-messages><message [^>]*xmlns=["']jabber:client["']><body>while you were out &lt;1&gt;<\/body>(<stanza-id [^>]*\/>)?<delay xmlns=["']urn:xmpp:delay["'] from=["']localhost["'] stamp=/); // stanza-id: the mam module (XEP-0359)
  assert.match(text, /<query xmlns=["']jabber:iq:private["']><storage xmlns=["']storage:bookmarks["']>/);
});

test('import into a fresh server recreates everything; a second import updates without duplicating', async () => {
  const first = await admin(b, 'data.import', { file: fileA });
  assert.equal(first.users, 3);
  assert.equal(first.created, 3);
  assert.equal(first.scramCredentials, 3);
  assert.equal(first.sha1Only, 0);
  assert.equal(first.vcards, 1);
  assert.equal(first.privateNamespaces, 1);
  assert.equal(first.offlineMessages, 2);
  assert.deepEqual(first.noCredentials, []);
  assert.deepEqual(first.skipped, []);
  const again = await admin(b, 'data.import', { file: fileA });
  assert.equal(again.created, 0);
  assert.equal(again.updated, 3);
  assert.equal(again.offlineMessages, 0);
  assert.equal(again.offlineDuplicates, 2);
  assert.equal((await admin(b, 'offline.count', { jid: 'alice@localhost' })).count, 2);

  // Everything equal: exporting the new server gives the same document, byte for byte.
  const fileB = join(tmp, 'b.xml');
  await admin(b, 'data.export', { file: fileB });
  assert.equal(await readFile(fileB, 'utf8'), await readFile(fileA, 'utf8'));
});

test('after the import: old passwords work through the SCRAM keys, offline messages and the rest are there', async () => {
  const { c } = await RawClient.login(b.c2sPort, 'alice', 'pw-alice', 'after'); // SCRAM-SHA-256
  const msgs = await messagesUntilSync(c);
  assert.equal(msgs.length, 2, msgs.join('\n'));
  assert.match(msgs[0]!, /id=["']o1["'][\s\S]*<body>while you were out &lt;1&gt;<\/body>/);
  assert.match(msgs[0]!, /<delay xmlns=["']urn:xmpp:delay["'] from=["']localhost["'] stamp=["']\d{4}-/);
  assert.match(msgs[1]!, /id=["']o2["'][\s\S]*<body>second<\/body>/);
  assert.match(await rosterOf(c), /<item jid=["']bob@localhost["'][^>]*name=["']Bobby["'][^>]*><group>Friends<\/group><group>Work<\/group><\/item>/);
  assert.match(await rosterOf(c), /ask=["']subscribe["']/);
  const card = await vcardOf(c);
  assert.ok(card.includes(`<BINVAL>${PHOTO}</BINVAL>`) && card.includes('<FN>Alice Example</FN>'), card);
  assert.match(await privateOf(c, "<storage xmlns='storage:bookmarks'/>"), /<conference jid=["']room@muc\.example["'] autojoin=["']true["'] name=["']R &amp; D["']><nick>ali<\/nick><\/conference>/);
  // the photo hash came along with the vCard: presence of alice's other resource carries it (XEP-0153)
  const other = await RawClient.login(b.c2sPort, 'alice', 'pw-alice', 'other');
  const hash = createHash('sha1').update(Buffer.from(PHOTO, 'base64')).digest('hex');
  await c.expect(new RegExp(`<presence\\b[^>]*from=["']alice@localhost/other["'][\\s\\S]*?<photo>${hash}</photo>`));
  other.c.close();
  c.close();
  assert.equal((await admin(b, 'offline.count', { jid: 'alice@localhost' })).count, 0, 'delivered messages are gone');

  for (const mechanism of ['SCRAM-SHA-1', 'PLAIN'] as const) {
    const s = await loginWith(b.c2sPort, 'localhost', 'alice', 'pw-alice', { mechanism, presence: false });
    s.c.close();
  }
  await assert.rejects(loginWith(b.c2sPort, 'localhost', 'alice', 'wrong', { mechanism: 'SCRAM-SHA-1' }), /login of alice@localhost failed/);
  // bob still has alice's request pending: it is delivered again at his login (RFC 6121 §3.1.3)
  const bob = await RawClient.login(b.c2sPort, 'bob', 'pw-bob', 'after');
  await bob.c.expect(/<presence\b(?=[^>]*type=["']subscribe["'])(?=[^>]*from=["']alice@localhost["'])/);
  bob.c.close();
});

test('a file with what other servers write: XInclude, double-base64 SCRAM, pending presence, odd entries', async () => {
  const t = await startTestServer();
  try {
    const r = await admin(t, 'data.import', { file: join(FIXTURES, 'main.xml') });
    assert.deepEqual(r.files.map((f: string) => f.replace(FIXTURES, '')), ['main.xml', 'localhost.xml']);
    assert.equal(r.users, 4);
    assert.equal(r.created, 4);
    assert.equal(r.scramCredentials, 2);
    assert.equal(r.sha1Only, 1);
    assert.equal(r.plainPasswords, 1);
    assert.deepEqual(r.noCredentials, ['ivy@localhost']);
    assert.deepEqual(r.unknownHosts, { 'elsewhere.example': 1 });
    assert.equal(r.skipped.length, 1);
    assert.match(r.skipped[0].jid, /^bad user@localhost$/);
    assert.equal(r.offlineMessages, 2);
    assert.equal(r.privateNamespaces, 2);
    assert.deepEqual(r.ignored, { '{jabber:iq:last}last': 1 });
    const warnings = r.warnings.join('\n');
    assert.match(warnings, /SCRAM-SHA-512 is not supported/);
    assert.match(warnings, /not a jid@@ is not a valid JID/);
    assert.match(warnings, /elsewhere\.example is not one of this server's hosts/);
    assert.match(warnings, /1 accounts have SCRAM-SHA-1 keys only/);

    // dora's keys were base64-encoded twice (ejabberd 23.01): decoded right, SCRAM-SHA-1 and PLAIN log in
    (await loginWith(t.c2sPort, 'localhost', 'dora', 'dora-pw', { mechanism: 'SCRAM-SHA-1', presence: false })).c.close();
    (await loginWith(t.c2sPort, 'localhost', 'dora', 'dora-pw', { mechanism: 'PLAIN', presence: false })).c.close();
    await assert.rejects(RawClient.login(t.c2sPort, 'dora', 'dora-pw', 'x'), /login failed/, 'no SHA-256 key for dora');
    (await RawClient.login(t.c2sPort, 'erin', 'erin-pw', 'x', { presence: false })).c.close();
    (await RawClient.login(t.c2sPort, 'hal', 'hal-pw', 'x', { presence: false })).c.close();

    const roster = await admin(t, 'roster.get', { jid: 'dora@localhost' });
    assert.deepEqual(roster.items, [
      { jid: 'erin@localhost', name: 'Erin & co', groups: ['Work', 'Friends'], subscription: 'to', approved: true },
      { jid: 'frank@remote.example', groups: [], subscription: 'none', ask: 'subscribe' },
    ]);
    assert.deepEqual(roster.pending, ['gina@remote.example']);
    // UTF-8 beyond ASCII, and a CDATA section followed by more text in the same element
    assert.match((await admin(t, 'vcard.get', { jid: 'dora@localhost' })).vcard, /<FN>Dora Explorer<\/FN><NICKNAME>dóra 🗺<\/NICKNAME><DESC>likes &lt;maps&gt; &amp; more<\/DESC>/);

    const { c } = await loginWith(t.c2sPort, 'localhost', 'dora', 'dora-pw', { mechanism: 'SCRAM-SHA-1' });
    const msgs = await messagesUntilSync(c);
    assert.equal(msgs.length, 2, msgs.join('\n'));
    assert.match(msgs[0]!, /stamp=["']2024-01-02T03:04:05\.000Z["'][\s\S]*<body>first &lt;one&gt;<\/body>/);
    assert.match(msgs[1]!, /<body>no delay here<\/body>[\s\S]*<delay xmlns=["']urn:xmpp:delay["'] from=["']localhost["'] stamp=/);
    assert.match(await privateOf(c, "<storage xmlns='storage:bookmarks'/>"), /<b:storage xmlns:b=["']storage:bookmarks["']><b:conference jid=["']room@conference\.localhost["']/);
    assert.match(await privateOf(c, "<prefs xmlns='urn:example:prefs'/>"), /<theme>dark<\/theme>/);
    c.close();

    // the same file again: nothing new
    const again = await admin(t, 'data.import', { file: FIXTURES });
    assert.equal(again.created, 0);
    // dora's two messages were delivered (and deleted) at her login: the importer cannot tell them from new ones
    assert.equal(again.offlineMessages, 2);
    assert.equal(again.offlineDuplicates, 0);
    assert.deepEqual(again.files.map((f: string) => f.replace(FIXTURES, '')), ['main.xml', 'localhost.xml'], 'a directory: the included file is read once');
  } finally {
    await t.stop();
  }
});

test('many accounts: export pages through the accounts table, import streams a file of several chunks', async () => {
  const src = await startTestServer();
  const dst = await startTestServer();
  try {
    await src.addUser('u0000', 'pw-many');
    const { value } = (await src.server.core.store.table<{ creds: unknown }>('accounts').get('localhost/u0000'))!;
    // the same stored credentials for every account: PBKDF2 per account would only make the test slow
    const ops = Array.from({ length: 1199 }, (_, i) => ({ type: 'put' as const, table: 'accounts', key: `localhost/u${String(i + 1).padStart(4, '0')}`, value: value as never }));
    await src.server.core.store.transact(ops);
    await admin(src, 'vcard.set', { jid: 'u1199@localhost', vcard: "<vCard xmlns='vcard-temp'><FN>the last one</FN></vCard>" });
    const file = join(tmp, 'many.xml');
    const progress: string[] = [];
    const r = await admin(src, 'data.export', { file }, progress);
    assert.equal(r.users, 1200);
    assert.ok(progress.includes('export: localhost: 1000 users'), progress.join('\n'));
    assert.ok((await readFile(file)).length > 600_000, 'larger than two read chunks');

    const lines: string[] = [];
    const i = await admin(dst, 'data.import', { file }, lines);
    assert.equal(i.created, 1200);
    assert.equal(i.vcards, 1);
    assert.ok(lines.includes('import: 1000 users (1000 created, 0 updated)'), lines.join('\n'));
    assert.equal((await dst.server.core.accounts.list('localhost')).length, 1200);
    assert.match((await admin(dst, 'vcard.get', { jid: 'u1199@localhost' })).vcard, /the last one/);
    (await RawClient.login(dst.c2sPort, 'u0777', 'pw-many', 'x', { presence: false })).c.close();
  } finally {
    await src.stop();
    await dst.stop();
  }
});

test('errors say what is wrong: unknown host, missing file, not XEP-0227, truncated XML', async () => {
  await assert.rejects(admin(a, 'data.export', { file: join(tmp, 'x.xml'), host: 'nope.example' }), /nope\.example is not one of this server's hosts/);
  await assert.rejects(admin(b, 'data.import', { file: join(tmp, 'missing.xml') }), /no such file/);
  const notPie = join(tmp, 'not.xml');
  await writeFile(notPie, "<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams'/>");
  await assert.rejects(admin(b, 'data.import', { file: notPie }), /not a XEP-0227 file: the root element is <stream:stream/);
  const cut = join(tmp, 'cut.xml');
  await writeFile(cut, (await readFile(fileA, 'utf8')).slice(0, 400));
  await assert.rejects(admin(b, 'data.import', { file: cut }), /ends before its root element is closed \(truncated\?\)/);
  const bad = join(tmp, 'bad.xml');
  await writeFile(bad, "<server-data xmlns='urn:xmpp:pie:0'><host jid='localhost'><user name='x'>&bogus;</user></host></server-data>");
  await assert.rejects(admin(b, 'data.import', { file: bad }), /bad\.xml: not well-formed XML/);
  // nothing half-written under the requested name when the export fails
  await assert.rejects(admin(a, 'data.export', { file: join(tmp, 'no-such-dir', 'x.xml') }), /cannot write/);
});
