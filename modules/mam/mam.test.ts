// XEP-0313 MAM over real sockets: archiving for sender and recipient (with XEP-0359 stanza-ids), queries
// with forms and XEP-0059 paging, access control, what is not archived, account removal, archive.query;
// on every host.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import { forEachHost, HOSTS } from '../../test/support/each-host.js';
import { RawClient } from '../../test/support/raw-client.js';
import { assertStanza, discoFeature, parseStanza, stanzaError, type StanzaShape } from '../../test/support/stanza-match.js';
import { Jid } from '../../src/core/jid.js';
import { runCommand } from '../../src/core/admin/commands.js';
import { bodies, form, query, rsm, sync } from './test-support.js';

const NS_MAM = 'urn:xmpp:mam:2';
const STAMP = /^\d{4}-\d\d-\d\dT[\d:.]+Z$/;

let t: TestServer;
before(async () => {
  t = await startTestServer({ modules: { disco: {}, ping: {}, mam: { max_results: 50 } } });
  for (const host of HOSTS) for (const u of ['alice', 'bob', 'carol', 'dave']) await t.addUser(u, `pw-${u}`, host);
});
after(() => t.stop());

/** The MAM <fin/> answer (an IQ result) with these RSM children and attributes. */
const fin = (attrs: Record<string, string>, set: StanzaShape[] = []): StanzaShape =>
  ({ name: 'iq', attrs: { type: 'result' }, children: [{ name: 'fin', ns: NS_MAM, attrs, has: [{ name: 'set', ns: 'http://jabber.org/protocol/rsm', has: set }] }] });
const lastOf = (finXml: string) => parseStanza(finXml).getChild('fin')!.getChild('set')!.getChildText('last');

forEachHost((host) => {
  const login = async (user: string, resource: string) => (await RawClient.login(t.c2sPort, user, `pw-${user}`, resource, { host })).c;
  const ctx = () => ({ core: t.server.core, modules: t.server.modules });

  test('alice sends bob 3 chat messages: bob receives them with stanza-ids by his JID; both archives hold them, results before the fin', async () => {
    const a = await login('alice', 'laptop');
    const b = await login('bob', 'phone');
    const b2 = await login('bob', 'tablet'); // two resources: still one copy in bob's archive
    await sync(a); await sync(b); await sync(b2);
    for (let i = 1; i <= 3; i++) a.send(`<message to='bob@${host}' type='chat' id='m${i}'><body>hello ${i}</body></message>`);
    const sids: string[] = [];
    for (let i = 1; i <= 3; i++) {
      const m = assertStanza((await b.expect(new RegExp(`<message[^>]*id=["']m${i}["'][\\s\\S]*?</message>`)))[0], {
        name: 'message', has: [{ name: 'stanza-id', ns: 'urn:xmpp:sid:0', attrs: { by: `bob@${host}`, id: /./ } }],
      });
      sids.push(m.getChild('stanza-id', 'urn:xmpp:sid:0')!.attrs.id as string);
    }
    const ra = await query(a);
    assert.equal(ra.results.length, 3);
    assert.deepEqual(bodies(ra), ['hello 1', 'hello 2', 'hello 3']);
    for (const r of ra.results) {
      assertStanza(r.xml, {
        name: 'message', attrs: { to: `alice@${host}/laptop` },
        children: [{ name: 'result', ns: NS_MAM, has: [{ name: 'forwarded', ns: 'urn:xmpp:forward:0', children: [
          { name: 'delay', ns: 'urn:xmpp:delay', attrs: { stamp: STAMP } },
          { name: 'message', attrs: { from: `alice@${host}/laptop` } },
        ] }] }],
      });
    }
    assertStanza(ra.fin, fin({ complete: 'true' }, [{ name: 'first', attrs: { index: '0' }, text: /./ }, { name: 'last', text: /./ }, { name: 'count', text: '3' }]));
    const rb = await query(b);
    assert.equal(rb.results.length, 3);
    assert.deepEqual(rb.results.map((r) => r.id), sids, 'the stanza-ids are bob\'s archive ids');
    assertStanza(rb.results[0]!.xml, {
      name: 'message', has: [{ name: 'result', has: [{ name: 'forwarded', has: [{ name: 'message', without: [{ name: 'stanza-id', ns: 'urn:xmpp:sid:0' }] }] }] }],
    }); // the archived original is the sent stanza
    a.close(); b.close(); b2.close();
  });

  test('the with filter, start/end, and XEP-0059 paging (max, after, empty before = last page)', async () => {
    const a = await login('alice', 'paging');
    const c = await login('carol', 'x');
    await sync(c);
    for (let i = 1; i <= 3; i++) a.send(`<message to='carol@${host}' id='c${i}'><body>to carol ${i}</body></message>`); // no type = normal
    await sync(a);
    for (let i = 1; i <= 3; i++) await c.expect(new RegExp(`id=["']c${i}["']`));
    const withCarol = await query(a, form({ with: `carol@${host}` }));
    assert.deepEqual(bodies(withCarol), ['to carol 1', 'to carol 2', 'to carol 3']);
    const withBob = await query(a, form({ with: `bob@${host}` }));
    assert.deepEqual(bodies(withBob), ['hello 1', 'hello 2', 'hello 3']);
    assert.equal((await query(a, form({ start: '2999-01-01T00:00:00Z' }))).results.length, 0);
    assert.equal((await query(a, form({ end: '2000-01-01T00:00:00Z' }))).results.length, 0);
    assert.equal((await query(a, form({ start: '2000-01-01T00:00:00Z', end: '2999-01-01T00:00:00Z' }))).results.length, 6);

    const p1 = await query(a, rsm('<max>2</max>'));
    assert.deepEqual(bodies(p1), ['hello 1', 'hello 2']);
    assertStanza(p1.fin, fin({ complete: 'false' }, [{ name: 'count', text: '6' }]));
    const last1 = lastOf(p1.fin);
    assert.equal(last1, p1.results[1]!.id);
    const p2 = await query(a, rsm(`<max>2</max><after>${last1}</after>`));
    assert.deepEqual(bodies(p2), ['hello 3', 'to carol 1']);
    assertStanza(p2.fin, fin({}, [{ name: 'first', attrs: { index: '2' } }]));
    const p3 = await query(a, rsm(`<max>2</max><after>${p2.results[1]!.id}</after>`));
    assert.deepEqual(bodies(p3), ['to carol 2', 'to carol 3']);
    assertStanza(p3.fin, fin({ complete: 'true' }));
    const lastPage = await query(a, rsm('<max>2</max><before/>'));
    assert.deepEqual(bodies(lastPage), ['to carol 2', 'to carol 3']);
    assertStanza(lastPage.fin, fin({}, [{ name: 'first', attrs: { index: '4' } }]));
    const prev = await query(a, rsm(`<max>2</max><before>${lastPage.results[0]!.id}</before>`));
    assert.deepEqual(bodies(prev), ['hello 3', 'to carol 1']);
    const paged = await query(a, form({ with: `carol@${host}` }) + rsm('<max>1</max><before/>'));
    assert.deepEqual(bodies(paged), ['to carol 3']);
    assertStanza(paged.fin, fin({}, [{ name: 'count', text: '3' }]));
    a.close(); c.close();
  });

  test("querying someone else's archive is forbidden; the form and disco feature are offered", async () => {
    const a = await login('alice', 'nosy');
    const r = await query(a, '', `bob@${host}`);
    assert.equal(r.results.length, 0);
    assertStanza(r.fin, stanzaError('forbidden'));
    a.send("<iq type='get' id='f1'><query xmlns='urn:xmpp:mam:2'/></iq>");
    const f = (await a.expect(/<iq[^>]*id=["']f1["'][\s\S]*?<\/iq>/))[0];
    assertStanza(f, {
      name: 'iq', attrs: { type: 'result' },
      children: [{ name: 'query', ns: NS_MAM, has: [{ name: 'x', ns: 'jabber:x:data', attrs: { type: 'form' }, has: ['FORM_TYPE', 'with', 'start', 'end'].map((v) => ({ name: 'field', attrs: { var: v } })) }] }],
    });
    a.send(`<iq type='get' id='d1' to='alice@${host}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    assertStanza((await a.expect(/<iq[^>]*id=["']d1["'][\s\S]*?<\/iq>/))[0], discoFeature(NS_MAM));
    const bad = await query(a, form({ start: 'yesterday' }));
    assertStanza(bad.fin, stanzaError('bad-request'));
    a.close();
  });

  test('headline, error, groupchat and bodiless messages are not archived', async () => {
    const d = await login('dave', 'x');
    const b = await login('bob', 'y');
    await sync(b);
    d.send(`<message to='bob@${host}' type='headline' id='h1'><body>news</body></message>`);
    d.send(`<message to='bob@${host}' type='error' id='e1'><body>err</body></message>`);
    d.send(`<message to='bob@${host}/y' type='groupchat' id='g1'><body>room</body></message>`);
    d.send(`<message to='bob@${host}' type='chat' id='s1'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`);
    d.send(`<message to='bob@${host}' type='chat' id='k1'><body>kept</body></message>`);
    await b.expect(/id=["']k1["']/);
    await sync(d);
    assert.deepEqual(bodies(await query(d)), ['kept']);
    assert.deepEqual(bodies(await query(b, form({ with: `dave@${host}` }))), ['kept']);
    d.close(); b.close();
  });

  test('archive.query returns the messages; removing the account deletes its archive', async () => {
    const r = await runCommand(ctx(), 'archive.query', { jid: `alice@${host}`, with: `carol@${host}` }) as { messages: Array<{ id: string; stamp: string; with: string; xml: string }> };
    assert.equal(r.messages.length, 3);
    assert.equal(r.messages[0]!.with, `carol@${host}`);
    assertStanza(r.messages[0]!.xml, { name: 'message', has: [{ name: 'body', text: 'to carol 1' }] });
    assert.match(r.messages[0]!.stamp, /^\d{4}-\d\d-\d\dT/);
    const last = await runCommand(ctx(), 'archive.query', { jid: `alice@${host}`, max: 1 }) as { messages: Array<{ xml: string }> };
    assert.equal(last.messages.length, 1);
    assertStanza(last.messages[0]!.xml, { name: 'message', has: [{ name: 'body', text: 'to carol 3' }] });
    await t.server.core.accounts.remove(Jid.of('alice', host));
    assert.equal(await t.server.core.store.table('mam_messages').count({ prefix: `${host}/alice\u0000` }), 0);
    assert.ok(await t.server.core.store.table('mam_messages').count({ prefix: `${host}/bob\u0000` }) > 0, "bob's archive stays");
    await assert.rejects(runCommand(ctx(), 'archive.query', { jid: `alice@${host}` }), /does not exist/);
  });
});
