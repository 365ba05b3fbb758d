// pep over real sockets (XEP-0163 on XEP-0060), on every host: disco of an account, publish / retrieve /
// retract / purge / delete, publish-options (auto-create, precondition-not-met), the access models,
// max_items, +notify filtering through XEP-0115 caps, last items on login, PEP_SERVICE, account removal
// and persistence across a restart.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { xml, Jid, type PepApi } from '../../src/sdk.js';
import type { TestServer } from '../../test/support/harness.js';
import { forEachHost, HOSTS } from '../../test/support/each-host.js';
import { RawClient } from '../../test/support/raw-client.js';
import { assertStanza, discoFeature, iqResult, parseStanza, stanzaError } from '../../test/support/stanza-match.js';
import {
  NS_ERRORS, NS_EVENT, NS_OWNER, NS_PUBSUB, assertNoEvent, befriend, capsLogin, expectEvent, iq, publishXml, setContact, startPubsubServer, sync,
} from './test-support.js';

const USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'];
let dir: string;
let t: TestServer;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xmppd-pep-'));
  t = await startPubsubServer({ dir });
  for (const host of HOSTS) for (const u of USERS) await t.addUser(u, `pw-${u}`, host);
});
after(async () => {
  await t.stop();
  await rm(dir, { recursive: true, force: true });
});

const items = (node: string, extra = '') => `<pubsub xmlns='${NS_PUBSUB}'><items node='${node}'${extra}/></pubsub>`;
const itemIds = (answer: string): string[] =>
  parseStanza(answer).getChild('pubsub')!.getChild('items')!.getChildren('item').map((i) => i.attrs.id as string);
const pubsubErr = (condition: string, app: string, type?: string) => ({ ...stanzaError(condition, 'iq', type), has: [{ name: 'error', has: [{ name: condition }, { name: app, ns: NS_ERRORS }] }] });
const config = (c: RawClient, to: string, node: string) => iq(c, `<pubsub xmlns='${NS_OWNER}'><configure node='${node}'/></pubsub>`, 'get', to);
const fieldValue = (answer: string, v: string) =>
  parseStanza(answer).getChild('pubsub')!.getChild('configure')!.getChild('x')!.getChildren('field').find((f) => f.attrs.var === v)?.getChildText('value');

forEachHost((host) => {
  const login = (user: string, resource: string, notify: string[] = []) => capsLogin(t, user, host, resource, notify);

  test('an account is a pubsub/pep entity with the PEP features, to itself and to contacts; strangers get nothing', async () => {
    await befriend(t, host, 'alice', 'bob');
    const a = await login('alice', 'disco');
    const info = "<query xmlns='http://jabber.org/protocol/disco#info'/>";
    const own = await iq(a.c, info, 'get', a.bare);
    for (const f of ['publish', 'publish-options', 'auto-create', 'access-presence', 'access-whitelist', 'retrieve-items', 'last-published', 'filtered-notifications']) {
      assertStanza(own, discoFeature(`${NS_PUBSUB}#${f}`));
    }
    assertStanza(own, iqResult({ name: 'query', has: [{ name: 'identity', attrs: { category: 'pubsub', type: 'pep' } }] }));
    const b = await login('bob', 'disco');
    assertStanza(await iq(b.c, info, 'get', a.bare), iqResult({ name: 'query', has: [{ name: 'identity', attrs: { category: 'pubsub', type: 'pep' } }] }));
    const c = await login('carol', 'disco');
    assertStanza(await iq(c.c, info, 'get', a.bare), stanzaError('service-unavailable'));
    for (const x of [a, b, c]) x.c.close();
  });

  test('alice publishes, retrieves (newest first, by id, max_items), retracts, purges and deletes a node', async () => {
    const a = await login('alice', 'work', ['urn:example:tune']);
    const node = 'urn:example:tune';
    const r1 = await iq(a.c, publishXml(node, 't1', "<tune xmlns='urn:example:tune'><title>One</title></tune>"), 'set');
    assertStanza(r1, iqResult({ name: 'pubsub', ns: NS_PUBSUB, children: [{ name: 'publish', attrs: { node }, children: [{ name: 'item', attrs: { id: 't1' } }] }] }));
    // her own resource asked for +notify: she hears her publication, payload included
    const ev = await expectEvent(a.c, node);
    assertStanza(ev, { name: 'message', attrs: { from: a.bare, type: 'headline' }, has: [{ name: 'event', ns: NS_EVENT, children: [{ name: 'items', attrs: { node }, children: [{ name: 'item', attrs: { id: 't1' }, children: [{ name: 'tune', ns: 'urn:example:tune' }] }] }] }] });
    // the default keeps one item: make room for more, then publish without an id (the service makes one)
    assertStanza(await iq(a.c, `<pubsub xmlns='${NS_OWNER}'><configure node='${node}'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>${NS_PUBSUB}#node_config</value></field><field var='pubsub#max_items'><value>5</value></field></x></configure></pubsub>`, 'set'), iqResult());
    const r2 = await iq(a.c, publishXml(node, null, "<tune xmlns='urn:example:tune'><title>Two</title></tune>"), 'set');
    const genId = parseStanza(r2).getChild('pubsub')!.getChild('publish')!.getChild('item')!.attrs.id as string;
    assert.ok(genId && genId !== 't1');
    await iq(a.c, publishXml(node, 't3', "<tune xmlns='urn:example:tune'><title>Three</title></tune>"), 'set');
    assert.deepEqual(itemIds(await iq(a.c, items(node))), ['t3', genId, 't1']);
    assert.deepEqual(itemIds(await iq(a.c, items(node, " max_items='2'"))), ['t3', genId]);
    const byId = await iq(a.c, `<pubsub xmlns='${NS_PUBSUB}'><items node='${node}'><item id='t1'/></items></pubsub>`);
    assertStanza(byId, iqResult({ name: 'pubsub', children: [{ name: 'items', children: [{ name: 'item', attrs: { id: 't1' }, children: [{ name: 'tune', children: [{ name: 'title', text: 'One' }] }] }] }] }));
    // republishing an id replaces the item and makes it the newest
    await iq(a.c, publishXml(node, 't1', "<tune xmlns='urn:example:tune'><title>One again</title></tune>"), 'set');
    assert.deepEqual(itemIds(await iq(a.c, items(node))), ['t1', 't3', genId]);

    // retract: gone, with a <retract/> notification (notify_retract is on)
    assertStanza(await iq(a.c, `<pubsub xmlns='${NS_PUBSUB}'><retract node='${node}'><item id='t3'/></retract></pubsub>`, 'set'), iqResult());
    assertStanza(await expectEvent(a.c, node, /<retract/), { name: 'message', has: [{ name: 'event', children: [{ name: 'items', children: [{ name: 'retract', attrs: { id: 't3' } }] }] }] });
    assert.deepEqual(itemIds(await iq(a.c, items(node))), ['t1', genId]);
    assertStanza(await iq(a.c, `<pubsub xmlns='${NS_PUBSUB}'><retract node='${node}'><item id='t3'/></retract></pubsub>`, 'set'), stanzaError('item-not-found'));
    assertStanza(await iq(a.c, `<pubsub xmlns='${NS_PUBSUB}'><retract node='${node}'/></pubsub>`, 'set'), pubsubErr('bad-request', 'item-required'));

    // §7.1.3.6 / §7.1.3.5: a persistent node needs an item, and an item holds one payload
    assertStanza(await iq(a.c, `<pubsub xmlns='${NS_PUBSUB}'><publish node='${node}'/></pubsub>`, 'set'), pubsubErr('bad-request', 'item-required'));
    assertStanza(await iq(a.c, `<pubsub xmlns='${NS_PUBSUB}'><publish node='${node}'><item id='x'/></publish></pubsub>`, 'set'), pubsubErr('bad-request', 'payload-required'));
    assertStanza(await iq(a.c, `<pubsub xmlns='${NS_PUBSUB}'><publish node='${node}'><item id='x'><a xmlns='urn:a'/><b xmlns='urn:b'/></item></publish></pubsub>`, 'set'), pubsubErr('bad-request', 'invalid-payload'));

    // purge, then delete (a <delete/> notification), then the node is gone
    assertStanza(await iq(a.c, `<pubsub xmlns='${NS_OWNER}'><purge node='${node}'/></pubsub>`, 'set'), iqResult());
    assert.deepEqual(itemIds(await iq(a.c, items(node))), []);
    assertStanza(await iq(a.c, `<pubsub xmlns='${NS_OWNER}'><delete node='${node}'/></pubsub>`, 'set'), iqResult());
    assertStanza(await expectEvent(a.c, node, /<delete/), { name: 'message', has: [{ name: 'event', children: [{ name: 'delete', attrs: { node } }] }] });
    assertStanza(await iq(a.c, items(node)), stanzaError('item-not-found'));
    assertStanza(await iq(a.c, items('')), pubsubErr('bad-request', 'nodeid-required'));
    a.c.close();
  });

  test('publish-options create the node with them; on an existing node they are preconditions (conflict + precondition-not-met)', async () => {
    const a = await login('alice', 'opts');
    const node = 'urn:example:opts';
    assertStanza(await iq(a.c, publishXml(node, 'current', "<x xmlns='urn:example:opts'/>", { 'pubsub#access_model': 'open', 'pubsub#max_items': 'max' }), 'set'), iqResult({ name: 'pubsub' }));
    const cfg = await config(a.c, a.bare, node);
    assert.equal(fieldValue(cfg, 'pubsub#access_model'), 'open');
    assert.equal(fieldValue(cfg, 'pubsub#max_items'), '256');
    // the same options again: fine
    assertStanza(await iq(a.c, publishXml(node, 'current', "<x xmlns='urn:example:opts'/>", { 'pubsub#access_model': 'open' }), 'set'), iqResult({ name: 'pubsub' }));
    // different ones: refused, and the item is not stored
    const refused = await iq(a.c, publishXml(node, 'other', "<x xmlns='urn:example:opts'/>", { 'pubsub#access_model': 'whitelist' }), 'set');
    assertStanza(refused, pubsubErr('conflict', 'precondition-not-met', 'cancel'));
    assert.deepEqual(itemIds(await iq(a.c, items(node))), ['current']);
    // a bad value for a new node: not-acceptable
    assertStanza(await iq(a.c, publishXml('urn:example:bad', 'x', "<x xmlns='urn:example:opts'/>", { 'pubsub#access_model': 'everyone' }), 'set'), stanzaError('not-acceptable'));
    a.c.close();
  });

  test('access models: presence (contacts only), whitelist (members), open (anyone), roster (groups); outcasts are forbidden', async () => {
    await setContact(t, host, 'dave', 'erin', 'from', ['Friends']); // erin may see dave's presence
    await setContact(t, host, 'erin', 'dave', 'to');
    await setContact(t, host, 'dave', 'frank', 'to', ['Work']); // dave sees frank's, not the other way
    const d = await login('dave', 'owner');
    const e = await login('erin', 'reader');
    const f = await login('frank', 'reader');
    const payload = "<geoloc xmlns='http://jabber.org/protocol/geoloc'><locality>Paris</locality></geoloc>";
    await iq(d.c, publishXml('urn:example:presence', 'p1', payload), 'set');
    assert.deepEqual(itemIds(await iq(e.c, items('urn:example:presence'), 'get', d.bare)), ['p1']);
    assertStanza(await iq(f.c, items('urn:example:presence'), 'get', d.bare), pubsubErr('not-authorized', 'presence-subscription-required', 'auth'));

    await iq(d.c, publishXml('urn:example:white', 'w1', payload, { 'pubsub#access_model': 'whitelist' }), 'set');
    assertStanza(await iq(e.c, items('urn:example:white'), 'get', d.bare), pubsubErr('not-allowed', 'closed-node', 'cancel'));
    assertStanza(await iq(d.c, `<pubsub xmlns='${NS_OWNER}'><affiliations node='urn:example:white'><affiliation jid='${f.bare}' affiliation='member'/></affiliations></pubsub>`, 'set'), iqResult());
    assert.deepEqual(itemIds(await iq(f.c, items('urn:example:white'), 'get', d.bare)), ['w1']);
    const affs = await iq(d.c, `<pubsub xmlns='${NS_OWNER}'><affiliations node='urn:example:white'/></pubsub>`, 'get');
    assertStanza(affs, iqResult({ name: 'pubsub', ns: NS_OWNER, children: [{ name: 'affiliations', has: [{ name: 'affiliation', attrs: { jid: d.bare, affiliation: 'owner' } }, { name: 'affiliation', attrs: { jid: f.bare, affiliation: 'member' } }] }] }));
    // only the owner manages affiliations
    assertStanza(await iq(f.c, `<pubsub xmlns='${NS_OWNER}'><affiliations node='urn:example:white'/></pubsub>`, 'get', d.bare), stanzaError('forbidden'));

    await iq(d.c, publishXml('urn:example:open', 'o1', payload, { 'pubsub#access_model': 'open' }), 'set');
    assert.deepEqual(itemIds(await iq(f.c, items('urn:example:open'), 'get', d.bare)), ['o1']);
    await iq(d.c, `<pubsub xmlns='${NS_OWNER}'><affiliations node='urn:example:open'><affiliation jid='${f.bare}' affiliation='outcast'/></affiliations></pubsub>`, 'set');
    assertStanza(await iq(f.c, items('urn:example:open'), 'get', d.bare), stanzaError('forbidden'));

    await iq(d.c, `<pubsub xmlns='${NS_PUBSUB}'><publish node='urn:example:roster'><item id='r1'>${payload}</item></publish><publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>${NS_PUBSUB}#publish-options</value></field><field var='pubsub#access_model'><value>roster</value></field><field var='pubsub#roster_groups_allowed'><value>Work</value></field></x></publish-options></pubsub>`, 'set');
    assert.deepEqual(itemIds(await iq(f.c, items('urn:example:roster'), 'get', d.bare)), ['r1']);
    assertStanza(await iq(e.c, items('urn:example:roster'), 'get', d.bare), pubsubErr('not-authorized', 'not-in-roster-group', 'auth'));
    // a contact may not publish to someone else's node
    assertStanza(await iq(e.c, publishXml('urn:example:presence', 'x', payload), 'set', d.bare), stanzaError('forbidden'));
    for (const x of [d, e, f]) x.c.close();
  });

  test('notifications go to resources whose caps ask <node>+notify: the owner’s and contacts’, never strangers’', async () => {
    await befriend(t, host, 'alice', 'bob');
    const node = 'http://jabber.org/protocol/mood';
    const a = await login('alice', 'phone', [node]);
    const aQuiet = await login('alice', 'quiet');
    const b = await login('bob', 'interested', [node]);
    const bQuiet = await login('bob', 'uninterested', ['urn:example:other']);
    const c = await login('carol', 'stranger', [node]); // no subscription to alice
    const mood = "<mood xmlns='http://jabber.org/protocol/mood'><happy/></mood>";
    assertStanza(await iq(a.c, publishXml(node, 'm1', mood), 'set'), iqResult({ name: 'pubsub' }));
    assertStanza(await expectEvent(b.c, node), { name: 'message', attrs: { from: a.bare, to: b.jid }, has: [{ name: 'event', ns: NS_EVENT, children: [{ name: 'items', attrs: { node }, children: [{ name: 'item', attrs: { id: 'm1' }, children: [{ name: 'mood' }] }] }] }] });
    await expectEvent(a.c, node);
    await assertNoEvent(bQuiet.c, node, 'a resource without +notify gets nothing');
    await assertNoEvent(aQuiet.c, node, "the owner's resource without +notify gets nothing");
    await assertNoEvent(c.c, node, 'a stranger gets nothing');
    for (const x of [a, aQuiet, b, bQuiet, c]) x.c.close();
  });

  test('the last item reaches a contact when it logs in with +notify caps, and the owner’s new resource too', async () => {
    await befriend(t, host, 'alice', 'carol');
    const node = 'urn:xmpp:avatar:metadata';
    const a = await login('alice', 'desk');
    await iq(a.c, publishXml(node, 'av1', "<metadata xmlns='urn:xmpp:avatar:metadata'><info id='av1' bytes='12' type='image/png'/></metadata>"), 'set');
    const c = await login('carol', 'fresh', [node]);
    const got = await expectEvent(c.c, node);
    assertStanza(got, { name: 'message', attrs: { from: a.bare }, has: [{ name: 'event', children: [{ name: 'items', children: [{ name: 'item', attrs: { id: 'av1' } }] }] }, { name: 'delay', ns: 'urn:xmpp:delay' }] });
    const a2 = await login('alice', 'laptop', [node]);
    await expectEvent(a2.c, node, /av1/);
    // once per resource: a presence update does not send it again
    c.c.send('<presence><show>away</show></presence>');
    await assertNoEvent(c.c, node, 'the last item is sent once per available resource');
    for (const x of [a, a2, c]) x.c.close();
  });

  test('a contact whose subscription the owner approves gets the last items at once', async () => {
    const node = 'urn:example:approved';
    const d = await login('dave', 'approver');
    await iq(d.c, publishXml(node, 'ap1', "<ap xmlns='urn:example:approved'/>"), 'set');
    const f = await login('frank', 'asker', [node]);
    await assertNoEvent(f.c, node, 'not a contact yet');
    f.c.send(`<presence to='${d.bare}' type='subscribe'/>`);
    await sync(f.c);
    d.c.send(`<presence to='${f.bare}' type='subscribed'/>`);
    await sync(d.c);
    await expectEvent(f.c, node, /ap1/);
    d.c.close();
    f.c.close();
  });

  test('an explicit subscriber gets notifications and the last item on subscription; unsubscribing twice is not-subscribed', async () => {
    await befriend(t, host, 'bob', 'erin');
    const node = 'urn:example:explicit';
    const b = await login('bob', 'owner');
    await iq(b.c, publishXml(node, 'e1', "<x xmlns='urn:example:explicit'>1</x>"), 'set');
    const e = await login('erin', 'subscriber'); // no +notify
    const sub = await iq(e.c, `<pubsub xmlns='${NS_PUBSUB}'><subscribe node='${node}' jid='${e.jid}'/></pubsub>`, 'set', b.bare);
    assertStanza(sub, iqResult({ name: 'pubsub', children: [{ name: 'subscription', attrs: { node, jid: e.jid, subscription: 'subscribed', subid: /./ } }] }));
    await expectEvent(e.c, node, /e1/);
    await iq(b.c, publishXml(node, 'e2', "<x xmlns='urn:example:explicit'>2</x>"), 'set');
    await expectEvent(e.c, node, /e2/);
    const subs = await iq(e.c, `<pubsub xmlns='${NS_PUBSUB}'><subscriptions/></pubsub>`, 'get', b.bare);
    assertStanza(subs, iqResult({ name: 'pubsub', children: [{ name: 'subscriptions', children: [{ name: 'subscription', attrs: { node, jid: e.jid } }] }] }));
    assertStanza(await iq(e.c, `<pubsub xmlns='${NS_PUBSUB}'><unsubscribe node='${node}' jid='${e.jid}'/></pubsub>`, 'set', b.bare), iqResult());
    assertStanza(await iq(e.c, `<pubsub xmlns='${NS_PUBSUB}'><unsubscribe node='${node}' jid='${e.jid}'/></pubsub>`, 'set', b.bare), pubsubErr('unexpected-request', 'not-subscribed', 'cancel'));
    // a stranger may not subscribe to a presence node; nor subscribe someone else
    const f = await login('frank', 'nosy');
    assertStanza(await iq(f.c, `<pubsub xmlns='${NS_PUBSUB}'><subscribe node='${node}' jid='${f.jid}'/></pubsub>`, 'set', b.bare), pubsubErr('not-authorized', 'presence-subscription-required'));
    assertStanza(await iq(f.c, `<pubsub xmlns='${NS_PUBSUB}'><subscribe node='${node}' jid='${e.jid}'/></pubsub>`, 'set', b.bare), pubsubErr('bad-request', 'invalid-jid'));
    await iq(e.c, `<pubsub xmlns='${NS_PUBSUB}'><subscribe node='${node}' jid='${e.jid}'/></pubsub>`, 'set', b.bare);
    assertStanza(await iq(f.c, `<pubsub xmlns='${NS_PUBSUB}'><unsubscribe node='${node}' jid='${e.jid}'/></pubsub>`, 'set', b.bare), stanzaError('forbidden'));
    for (const x of [b, e, f]) x.c.close();
  });

  test('disco#items of an account lists the nodes the asker may see; a node answers disco#info as a leaf', async () => {
    await befriend(t, host, 'carol', 'dave');
    const c = await login('carol', 'nodes');
    await iq(c.c, publishXml('urn:example:visible', 'v', "<v xmlns='urn:example:v'/>"), 'set');
    await iq(c.c, publishXml('urn:example:hidden', 'h', "<h xmlns='urn:example:h'/>", { 'pubsub#access_model': 'whitelist' }), 'set');
    const d = await login('dave', 'looker');
    const list = await iq(d.c, "<query xmlns='http://jabber.org/protocol/disco#items'/>", 'get', c.bare);
    assertStanza(list, iqResult({ name: 'query', has: [{ name: 'item', attrs: { jid: c.bare, node: 'urn:example:visible' } }], without: [{ name: 'item', attrs: { node: 'urn:example:hidden' } }] }));
    const own = await iq(c.c, "<query xmlns='http://jabber.org/protocol/disco#items'/>", 'get', c.bare);
    assertStanza(own, iqResult({ name: 'query', has: [{ name: 'item', attrs: { node: 'urn:example:visible' } }, { name: 'item', attrs: { node: 'urn:example:hidden' } }] }));
    const info = await iq(d.c, "<query xmlns='http://jabber.org/protocol/disco#info' node='urn:example:visible'/>", 'get', c.bare);
    assertStanza(info, iqResult({ name: 'query', has: [{ name: 'identity', attrs: { category: 'pubsub', type: 'leaf' } }] }));
    c.c.close();
    d.c.close();
  });

  test('PEP_SERVICE publishes as the account (notifying contacts), lists and retracts items', async () => {
    await befriend(t, host, 'erin', 'frank');
    const api = t.server.core.services.get<PepApi>(host, 'pep');
    assert.ok(api);
    const owner = Jid.parse(`erin@${host}`);
    const node = 'urn:xmpp:bookmarks:1';
    const f = await login('frank', 'watcher', [node]);
    const id = await api.publish(owner, node, { id: 'room@muc.example', payload: xml('conference', { xmlns: node, name: 'Room' }) }, { 'pubsub#access_model': 'whitelist', 'pubsub#max_items': 'max' });
    assert.equal(id, 'room@muc.example');
    // whitelist: frank is a contact, yet not told
    await assertNoEvent(f.c, node, 'whitelist nodes notify only allowed entities');
    const list = await api.items(owner, node);
    assert.deepEqual(list.map((i) => [i.id, i.payload.name, i.publisher]), [['room@muc.example', 'conference', `erin@${host}`]]);
    await assert.rejects(api.publish(owner, node, { payload: xml('conference', { xmlns: node }) }, { 'pubsub#access_model': 'open' }), (err: Error & { condition?: string }) => err.condition === 'conflict');
    assert.equal(await api.retract(owner, node, 'room@muc.example'), true);
    assert.equal(await api.retract(owner, node, 'room@muc.example'), false);
    assert.deepEqual(await api.items(owner, 'urn:example:none'), []);
    f.c.close();
  });

  test('concurrent publications to one node all succeed and max_items holds', async () => {
    const api = t.server.core.services.get<PepApi>(host, 'pep')!;
    const owner = Jid.parse(`dave@${host}`);
    const node = 'urn:example:burst';
    await api.publish(owner, node, { id: 'first', payload: xml('b', { xmlns: node }, 'first') }, { 'pubsub#max_items': '5' });
    const ids = Array.from({ length: 30 }, (_, i) => `p${i}`);
    const results = await Promise.all(ids.map((id) => api.publish(owner, node, { id, payload: xml('b', { xmlns: node }, id) })));
    assert.deepEqual(results, ids);
    const kept = (await api.items(owner, node)).map((i) => i.id);
    assert.equal(kept.length, 5, kept.join());
    assert.equal(new Set(kept).size, 5);
    assert.ok(kept.every((id) => ids.includes(id)), 'only the latest items stay (first is gone)');
  });

  test('removing an account removes its PEP nodes', async () => {
    const u = 'zed';
    await t.addUser(u, `pw-${u}`, host);
    const z = await login(u, 'x');
    await iq(z.c, publishXml('urn:example:gone', 'g', "<g xmlns='urn:example:g'/>"), 'set');
    z.c.close();
    await t.server.core.accounts.remove(Jid.parse(`${u}@${host}`));
    await t.addUser(u, `pw-${u}`, host);
    const z2 = await login(u, 'y');
    assertStanza(await iq(z2.c, items('urn:example:gone')), stanzaError('item-not-found'));
    z2.c.close();
  });
});

describe('persistence', () => {
  test('nodes, items and configuration survive a restart over the same data directory', async () => {
    for (const host of HOSTS) {
      const a = await capsLogin(t, 'alice', host, 'before');
      await iq(a.c, publishXml('urn:example:kept', 'k1', "<k xmlns='urn:example:k'>kept</k>", { 'pubsub#access_model': 'open', 'pubsub#max_items': '3' }), 'set');
      // and a node of the pubsub service
      await iq(a.c, `<pubsub xmlns='${NS_PUBSUB}'><create node='kept'/></pubsub>`, 'set', `pubsub.${host}`);
      await iq(a.c, publishXml('kept', 's1', "<s xmlns='urn:example:s'>service</s>"), 'set', `pubsub.${host}`);
      a.c.close();
    }
    await t.stop();
    t = await startPubsubServer({ dir });
    for (const host of HOSTS) {
      const c = await capsLogin(t, 'carol', host, 'after');
      const got = await iq(c.c, items('urn:example:kept'), 'get', `alice@${host}`);
      assertStanza(got, iqResult({ name: 'pubsub', children: [{ name: 'items', children: [{ name: 'item', attrs: { id: 'k1' }, children: [{ name: 'k', text: 'kept' }] }] }] }));
      const a = await capsLogin(t, 'alice', host, 'again');
      assert.equal(fieldValue(await config(a.c, a.bare, 'urn:example:kept'), 'pubsub#max_items'), '3');
      // the other host's node is not this one's
      assert.deepEqual(itemIds(await iq(a.c, items('urn:example:kept'))), ['k1']);
      assert.deepEqual(itemIds(await iq(c.c, items('kept'), 'get', `pubsub.${host}`)), ['s1']);
      // the service's owner is still alice: carol may not delete the node
      assertStanza(await iq(c.c, `<pubsub xmlns='${NS_OWNER}'><delete node='kept'/></pubsub>`, 'set', `pubsub.${host}`), stanzaError('forbidden'));
      a.c.close();
      c.c.close();
    }
  });
});

describe('options', () => {
  test('default_access_model, default_max_items, max_items, max_payload_size and max_nodes, on both hosts', async () => {
    const s = await startPubsubServer({ pep: { default_access_model: 'open', default_max_items: 2, max_items: 3, max_payload_size: 300, max_nodes: 2 } });
    try {
      for (const host of HOSTS) {
        for (const u of ['alice', 'carol']) await s.addUser(u, `pw-${u}`, host);
        const a = await capsLogin(s, 'alice', host, 'opts');
        const c = await capsLogin(s, 'carol', host, 'stranger');
        const node = 'urn:example:o';
        for (const id of ['1', '2', '3']) await iq(a.c, publishXml(node, id, `<o xmlns='${node}'>${id}</o>`), 'set');
        // open by default: a stranger reads; two items kept by default
        assert.deepEqual(itemIds(await iq(c.c, items(node), 'get', a.bare)), ['3', '2']);
        assertStanza(await iq(a.c, publishXml(node, '4', `<o xmlns='${node}'/>`, { 'pubsub#max_items': '4' }), 'set'), pubsubErr('conflict', 'precondition-not-met'));
        assertStanza(await iq(a.c, publishXml('urn:example:big', '4', `<o xmlns='urn:example:big'/>`, { 'pubsub#max_items': '4' }), 'set'), stanzaError('not-acceptable'));
        assertStanza(await iq(a.c, publishXml('urn:example:big', 'b', `<o xmlns='urn:example:big'>${'x'.repeat(400)}</o>`), 'set'), pubsubErr('not-acceptable', 'payload-too-big'));
        assertStanza(await iq(a.c, publishXml('urn:example:max', 'm', `<o xmlns='urn:example:max'/>`, { 'pubsub#max_items': 'max' }), 'set'), iqResult({ name: 'pubsub' }));
        assert.equal(fieldValue(await config(a.c, a.bare, 'urn:example:max'), 'pubsub#max_items'), '3');
        // two nodes per account
        assertStanza(await iq(a.c, publishXml('urn:example:third', 't', `<o xmlns='urn:example:third'/>`), 'set'), stanzaError('policy-violation'));
        a.c.close();
        c.c.close();
      }
    } finally {
      await s.stop();
    }
  });
});
