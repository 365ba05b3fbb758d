// XEP-0313 MAM over real sockets: archiving for sender and recipient (with XEP-0359 stanza-ids), queries
// with forms and XEP-0059 paging, access control, what is not archived, account removal, archive.query.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import { RawClient } from '../../test/support/raw-client.js';
import { Jid } from '../../src/core/jid.js';
import { runCommand } from '../../src/core/admin/commands.js';
import { bodies, form, query, rsm, sync } from './test-support.js';

let t: TestServer;
before(async () => {
  t = await startTestServer({ modules: { disco: {}, ping: {}, mam: { max_results: 50 } } });
  for (const u of ['alice', 'bob', 'carol', 'dave']) await t.addUser(u, `pw-${u}`);
});
after(() => t.stop());

const login = async (user: string, resource: string) => (await RawClient.login(t.c2sPort, user, `pw-${user}`, resource)).c;

test('alice sends bob 3 chat messages: bob receives them with stanza-ids; both archives hold them, results before the fin', async () => {
  const a = await login('alice', 'laptop');
  const b = await login('bob', 'phone');
  const b2 = await login('bob', 'tablet'); // two resources: still one copy in bob's archive
  await sync(a); await sync(b); await sync(b2);
  for (let i = 1; i <= 3; i++) a.send(`<message to='bob@localhost' type='chat' id='m${i}'><body>hello ${i}</body></message>`);
  const sids: string[] = [];
  for (let i = 1; i <= 3; i++) {
    const m = (await b.expect(new RegExp(`<message[^>]*id=["']m${i}["'][\\s\\S]*?</message>`)))[0];
    const sid = /<stanza-id xmlns=["']urn:xmpp:sid:0["'] by=["']bob@localhost["'] id=["']([^"']+)["']\/>/.exec(m);
    assert.ok(sid, `bob's copy carries a stanza-id: ${m}`);
    sids.push(sid[1]!);
  }
  const ra = await query(a);
  assert.equal(ra.results.length, 3);
  assert.deepEqual(bodies(ra), ['hello 1', 'hello 2', 'hello 3']);
  for (const r of ra.results) {
    assert.match(r.xml, /^<message[^>]*to=["']alice@localhost\/laptop["']/);
    assert.match(r.xml, /<forwarded xmlns=["']urn:xmpp:forward:0["']><delay xmlns=["']urn:xmpp:delay["'] stamp=["']\d{4}-\d\d-\d\dT[\d:.]+Z["']\/><message[^>]*from=["']alice@localhost\/laptop["']/);
  }
  assert.match(ra.fin, /type=["']result["']/);
  assert.match(ra.fin, /<fin xmlns=["']urn:xmpp:mam:2["'][^>]*complete=["']true["']/);
  assert.match(ra.fin, /<first index=["']0["']>[^<]+<\/first><last>[^<]+<\/last><count>3<\/count>/);
  const rb = await query(b);
  assert.equal(rb.results.length, 3);
  assert.deepEqual(rb.results.map((r) => r.id), sids, 'the stanza-ids are bob\'s archive ids');
  assert.doesNotMatch(rb.results[0]!.xml, /<stanza-id/, 'the archived original is the sent stanza');
  a.close(); b.close(); b2.close();
});

test('the with filter, start/end, and XEP-0059 paging (max, after, empty before = last page)', async () => {
  const a = await login('alice', 'paging');
  const c = await login('carol', 'x');
  await sync(c);
  for (let i = 1; i <= 3; i++) a.send(`<message to='carol@localhost' id='c${i}'><body>to carol ${i}</body></message>`); // no type = normal
  await sync(a);
  for (let i = 1; i <= 3; i++) await c.expect(new RegExp(`id=["']c${i}["']`));
  const withCarol = await query(a, form({ with: 'carol@localhost' }));
  assert.deepEqual(bodies(withCarol), ['to carol 1', 'to carol 2', 'to carol 3']);
  const withBob = await query(a, form({ with: 'bob@localhost' }));
  assert.deepEqual(bodies(withBob), ['hello 1', 'hello 2', 'hello 3']);
  assert.equal((await query(a, form({ start: '2999-01-01T00:00:00Z' }))).results.length, 0);
  assert.equal((await query(a, form({ end: '2000-01-01T00:00:00Z' }))).results.length, 0);
  assert.equal((await query(a, form({ start: '2000-01-01T00:00:00Z', end: '2999-01-01T00:00:00Z' }))).results.length, 6);

  const p1 = await query(a, rsm('<max>2</max>'));
  assert.deepEqual(bodies(p1), ['hello 1', 'hello 2']);
  assert.match(p1.fin, /complete=["']false["']/);
  assert.match(p1.fin, /<count>6<\/count>/);
  const last1 = /<last>([^<]+)<\/last>/.exec(p1.fin)![1];
  assert.equal(last1, p1.results[1]!.id);
  const p2 = await query(a, rsm(`<max>2</max><after>${last1}</after>`));
  assert.deepEqual(bodies(p2), ['hello 3', 'to carol 1']);
  assert.match(p2.fin, /<first index=["']2["']>/);
  const p3 = await query(a, rsm(`<max>2</max><after>${p2.results[1]!.id}</after>`));
  assert.deepEqual(bodies(p3), ['to carol 2', 'to carol 3']);
  assert.match(p3.fin, /complete=["']true["']/);
  const lastPage = await query(a, rsm('<max>2</max><before/>'));
  assert.deepEqual(bodies(lastPage), ['to carol 2', 'to carol 3']);
  assert.match(lastPage.fin, /<first index=["']4["']>/);
  const prev = await query(a, rsm(`<max>2</max><before>${lastPage.results[0]!.id}</before>`));
  assert.deepEqual(bodies(prev), ['hello 3', 'to carol 1']);
  const paged = await query(a, form({ with: 'carol@localhost' }) + rsm('<max>1</max><before/>'));
  assert.deepEqual(bodies(paged), ['to carol 3']);
  assert.match(paged.fin, /<count>3<\/count>/);
  a.close(); c.close();
});

test("querying someone else's archive is forbidden; the form and disco feature are offered", async () => {
  const a = await login('alice', 'nosy');
  const r = await query(a, '', 'bob@localhost');
  assert.equal(r.results.length, 0);
  assert.match(r.fin, /type=["']error["'][\s\S]*<forbidden /);
  a.send("<iq type='get' id='f1'><query xmlns='urn:xmpp:mam:2'/></iq>");
  const f = (await a.expect(/<iq[^>]*id=["']f1["'][\s\S]*?<\/iq>/))[0];
  assert.match(f, /<x xmlns=["']jabber:x:data["'] type=["']form["']>/);
  for (const v of ['FORM_TYPE', 'with', 'start', 'end']) assert.match(f, new RegExp(`var=["']${v}["']`));
  a.send("<iq type='get' id='d1' to='alice@localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
  assert.match((await a.expect(/<iq[^>]*id=["']d1["'][\s\S]*?<\/iq>/))[0], /<feature var=["']urn:xmpp:mam:2["']\/>/);
  const bad = await query(a, form({ start: 'yesterday' }));
  assert.match(bad.fin, /<bad-request /);
  a.close();
});

test('headline, error, groupchat and bodiless messages are not archived', async () => {
  const d = await login('dave', 'x');
  const b = await login('bob', 'y');
  await sync(b);
  d.send("<message to='bob@localhost' type='headline' id='h1'><body>news</body></message>");
  d.send("<message to='bob@localhost' type='error' id='e1'><body>err</body></message>");
  d.send("<message to='bob@localhost/y' type='groupchat' id='g1'><body>room</body></message>");
  d.send("<message to='bob@localhost' type='chat' id='s1'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>");
  d.send("<message to='bob@localhost' type='chat' id='k1'><body>kept</body></message>");
  await b.expect(/id=["']k1["']/);
  await sync(d);
  assert.deepEqual(bodies(await query(d)), ['kept']);
  assert.deepEqual(bodies(await query(b, form({ with: 'dave@localhost' }))), ['kept']);
  d.close(); b.close();
});

test('archive.query returns the messages; removing the account deletes its archive', async () => {
  const r = await runCommand({ core: t.server.core, modules: t.server.modules }, 'archive.query', { jid: 'alice@localhost', with: 'carol@localhost' }) as { messages: Array<{ id: string; stamp: string; with: string; xml: string }> };
  assert.equal(r.messages.length, 3);
  assert.equal(r.messages[0]!.with, 'carol@localhost');
  assert.match(r.messages[0]!.xml, /<body>to carol 1<\/body>/);
  assert.match(r.messages[0]!.stamp, /^\d{4}-\d\d-\d\dT/);
  const last = await runCommand({ core: t.server.core, modules: t.server.modules }, 'archive.query', { jid: 'alice@localhost', max: 1 }) as { messages: Array<{ xml: string }> };
  assert.equal(last.messages.length, 1);
  assert.match(last.messages[0]!.xml, /to carol 3/);
  await t.server.core.accounts.remove(Jid.parse('alice@localhost'));
  assert.equal(await t.server.core.store.table('mam_messages').count({ prefix: 'localhost/alice\u0000' }), 0);
  assert.ok(await t.server.core.store.table('mam_messages').count({ prefix: 'localhost/bob\u0000' }) > 0, "bob's archive stays");
  await assert.rejects(runCommand({ core: t.server.core, modules: t.server.modules }, 'archive.query', { jid: 'alice@localhost' }), /does not exist/);
});
