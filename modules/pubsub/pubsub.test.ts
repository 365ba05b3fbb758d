// The pubsub service on pubsub.<host> over real sockets (XEP-0060), on every host: listed in the host's
// disco#items, disco#info of the service and its nodes, create (named, instant, refused to others'
// accounts), configure, subscribe, publish with notifications to a subscriber, items, retract, delete.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { TestServer } from '../../test/support/harness.js';
import { forEachHost, HOSTS } from '../../test/support/each-host.js';
import { RawClient } from '../../test/support/raw-client.js';
import { assertStanza, discoFeature, iqResult, parseStanza, stanzaError } from '../../test/support/stanza-match.js';
import { NS_ERRORS, NS_EVENT, NS_OWNER, NS_PUBSUB, assertNoEvent, expectEvent, iq, publishXml, startPubsubServer } from './test-support.js';

let t: TestServer;

before(async () => {
  t = await startPubsubServer({ pubsub: { default_max_items: 2 } });
  for (const host of HOSTS) for (const u of ['alice', 'bob', 'carol']) await t.addUser(u, `pw-${u}`, host);
});
after(() => t.stop());

const otherHost = (host: string) => HOSTS.find((h) => h !== host)!;

forEachHost((host) => {
  const service = `pubsub.${host}`;
  const login = async (user: string, resource: string, on = host) => (await RawClient.login(t.c2sPort, user, `pw-${user}`, resource, { host: on })).c;

  test('the host lists the service; it is a pubsub/service with the XEP-0060 features', async () => {
    const a = await login('alice', 'disco');
    assertStanza(await iq(a, "<query xmlns='http://jabber.org/protocol/disco#items'/>", 'get', host),
      iqResult({ name: 'query', has: [{ name: 'item', attrs: { jid: service } }] }));
    const info = await iq(a, "<query xmlns='http://jabber.org/protocol/disco#info'/>", 'get', service);
    assertStanza(info, iqResult({ name: 'query', has: [{ name: 'identity', attrs: { category: 'pubsub', type: 'service' } }] }));
    for (const f of ['create-nodes', 'publish', 'subscribe', 'config-node', 'instant-nodes', 'retrieve-items', 'delete-nodes']) assertStanza(info, discoFeature(`${NS_PUBSUB}#${f}`));
    // anything else is not served
    assertStanza(await iq(a, "<query xmlns='jabber:iq:version'/>", 'get', service), stanzaError('service-unavailable'));
    a.close();
  });

  test('alice creates and configures a node, bob subscribes and is notified of publications, retractions and the deletion', async () => {
    const a = await login('alice', 'owner');
    const b = await login('bob', 'reader');
    const node = 'news';
    assertStanza(await iq(a, `<pubsub xmlns='${NS_PUBSUB}'><create node='${node}'/></pubsub>`, 'set', service), iqResult());
    assertStanza(await iq(a, `<pubsub xmlns='${NS_PUBSUB}'><create node='${node}'/></pubsub>`, 'set', service), stanzaError('conflict'));
    // the configuration form, then a change of title and max_items
    const form = await iq(a, `<pubsub xmlns='${NS_OWNER}'><configure node='${node}'/></pubsub>`, 'get', service);
    assertStanza(form, iqResult({ name: 'pubsub', ns: NS_OWNER, children: [{ name: 'configure', attrs: { node }, children: [{ name: 'x', ns: 'jabber:x:data', has: [{ name: 'field', attrs: { var: 'pubsub#max_items' }, has: [{ name: 'value', text: '2' }] }] }] }] }));
    assertStanza(await iq(a, `<pubsub xmlns='${NS_OWNER}'><configure node='${node}'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>${NS_PUBSUB}#node_config</value></field><field var='pubsub#title'><value>News</value></field><field var='pubsub#max_items'><value>3</value></field></x></configure></pubsub>`, 'set', service), iqResult());
    assertStanza(await iq(a, `<pubsub xmlns='${NS_OWNER}'><configure node='${node}'><x xmlns='jabber:x:data' type='submit'><field var='pubsub#max_items'><value>many</value></field></x></configure></pubsub>`, 'set', service), stanzaError('not-acceptable'));
    // only the owner configures
    assertStanza(await iq(b, `<pubsub xmlns='${NS_OWNER}'><configure node='${node}'/></pubsub>`, 'get', service), stanzaError('forbidden'));

    const bJid = `bob@${host}`;
    const sub = await iq(b, `<pubsub xmlns='${NS_PUBSUB}'><subscribe node='${node}' jid='${bJid}'/></pubsub>`, 'set', service);
    assertStanza(sub, iqResult({ name: 'pubsub', children: [{ name: 'subscription', attrs: { node, jid: bJid, subscription: 'subscribed' } }] }));
    // bob may not publish (publishers only)
    assertStanza(await iq(b, publishXml(node, 'x', "<entry xmlns='http://www.w3.org/2005/Atom'/>"), 'set', service), stanzaError('forbidden'));
    for (const n of [1, 2, 3, 4]) {
      await iq(a, publishXml(node, `n${n}`, `<entry xmlns='http://www.w3.org/2005/Atom'><title>${n}</title></entry>`), 'set', service);
      const ev = await expectEvent(b, node, new RegExp(`id=["']n${n}["']`));
      assertStanza(ev, { name: 'message', attrs: { from: service, type: 'headline' }, has: [{ name: 'event', ns: NS_EVENT, children: [{ name: 'items', attrs: { node }, children: [{ name: 'item', attrs: { id: `n${n}` }, children: [{ name: 'entry' }] }] }] }] });
    }
    // counted: 4 items published, at least 4 notifications (bob's)
    const metrics = await t.server.core.metrics.registry.metrics();
    const count = (name: string) => Number(new RegExp(`${name}\\{host="${host.replace(/\./g, '\\.')}",service="pubsub"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
    assert.ok(count('xmppd_pubsub_items_published_total') >= 4, metrics);
    assert.ok(count('xmppd_pubsub_notifications_total') >= 4, metrics);
    // max_items 3: the oldest went
    const got = await iq(b, `<pubsub xmlns='${NS_PUBSUB}'><items node='${node}'/></pubsub>`, 'get', service);
    assert.deepEqual(parseStanza(got).getChild('pubsub')!.getChild('items')!.getChildren('item').map((i) => i.attrs.id), ['n4', 'n3', 'n2']);
    // the node as a disco item of the service, and as a leaf
    assertStanza(await iq(b, "<query xmlns='http://jabber.org/protocol/disco#items'/>", 'get', service), iqResult({ name: 'query', has: [{ name: 'item', attrs: { jid: service, node, name: 'News' } }] }));
    assertStanza(await iq(b, `<query xmlns='http://jabber.org/protocol/disco#info' node='${node}'/>`, 'get', service), iqResult({ name: 'query', has: [{ name: 'identity', attrs: { category: 'pubsub', type: 'leaf', name: 'News' } }] }));

    assertStanza(await iq(a, `<pubsub xmlns='${NS_PUBSUB}'><retract node='${node}' notify='true'><item id='n2'/></retract></pubsub>`, 'set', service), iqResult());
    await expectEvent(b, node, /<retract id=["']n2["']/);
    // the owner sees the subscription
    assertStanza(await iq(a, `<pubsub xmlns='${NS_OWNER}'><subscriptions node='${node}'/></pubsub>`, 'get', service),
      iqResult({ name: 'pubsub', children: [{ name: 'subscriptions', children: [{ name: 'subscription', attrs: { jid: bJid, subscription: 'subscribed' } }] }] }));
    assertStanza(await iq(a, `<pubsub xmlns='${NS_OWNER}'><delete node='${node}'/></pubsub>`, 'set', service), iqResult());
    await expectEvent(b, node, /<delete node=/);
    assertStanza(await iq(b, `<pubsub xmlns='${NS_PUBSUB}'><items node='${node}'/></pubsub>`, 'get', service), stanzaError('item-not-found'));
    a.close();
    b.close();
  });

  test('instant nodes; a whitelist node refuses subscriptions (closed-node); unsubscribing without a subscription is not-subscribed', async () => {
    const a = await login('alice', 'instant');
    const created = await iq(a, `<pubsub xmlns='${NS_PUBSUB}'><create/><configure><x xmlns='jabber:x:data' type='submit'><field var='pubsub#access_model'><value>whitelist</value></field></x></configure></pubsub>`, 'set', service);
    const node = parseStanza(created).getChild('pubsub')!.getChild('create')!.attrs.node as string;
    assert.ok(node);
    const c = await login('carol', 'outsider');
    const sub = await iq(c, `<pubsub xmlns='${NS_PUBSUB}'><subscribe node='${node}' jid='carol@${host}'/></pubsub>`, 'set', service);
    assertStanza(sub, { ...stanzaError('not-allowed'), has: [{ name: 'error', has: [{ name: 'not-allowed' }, { name: 'closed-node', ns: NS_ERRORS }] }] });
    const unsub = await iq(c, `<pubsub xmlns='${NS_PUBSUB}'><unsubscribe node='${node}' jid='carol@${host}'/></pubsub>`, 'set', service);
    assertStanza(unsub, { ...stanzaError('unexpected-request'), has: [{ name: 'error', has: [{ name: 'not-subscribed', ns: NS_ERRORS }] }] });
    // publishing to a missing node (auto_create is off): item-not-found
    assertStanza(await iq(a, publishXml('missing', 'm', "<m xmlns='urn:example:m'/>"), 'set', service), stanzaError('item-not-found'));
    a.close();
    c.close();
  });

  test('the owner reads the default configuration, subscribes carol and bans bob (outcast: his subscription ends)', async () => {
    const a = await login('alice', 'manager');
    const def = await iq(a, `<pubsub xmlns='${NS_OWNER}'><default/></pubsub>`, 'get', service);
    assertStanza(def, iqResult({ name: 'pubsub', ns: NS_OWNER, children: [{ name: 'default', children: [{ name: 'x', has: [{ name: 'field', attrs: { var: 'pubsub#access_model' }, has: [{ name: 'value', text: 'open' }] }] }] }] }));
    await iq(a, `<pubsub xmlns='${NS_PUBSUB}'><create node='managed'/></pubsub>`, 'set', service);
    const c = await login('carol', 'managed');
    const b = await login('bob', 'managed');
    await iq(b, `<pubsub xmlns='${NS_PUBSUB}'><subscribe node='managed' jid='bob@${host}'/></pubsub>`, 'set', service);
    assertStanza(await iq(a, `<pubsub xmlns='${NS_OWNER}'><subscriptions node='managed'><subscription jid='carol@${host}' subscription='subscribed'/></subscriptions></pubsub>`, 'set', service), iqResult());
    assertStanza(await iq(a, `<pubsub xmlns='${NS_OWNER}'><affiliations node='managed'><affiliation jid='bob@${host}' affiliation='outcast'/></affiliations></pubsub>`, 'set', service), iqResult());
    await iq(a, publishXml('managed', 'm1', "<m xmlns='urn:example:m'/>"), 'set', service);
    await expectEvent(c, 'managed', /m1/);
    await assertNoEvent(b, 'managed', 'an outcast is not notified');
    assertStanza(await iq(b, `<pubsub xmlns='${NS_PUBSUB}'><items node='managed'/></pubsub>`, 'get', service), stanzaError('forbidden'));
    // an affiliation that does not exist is a bad request
    assertStanza(await iq(a, `<pubsub xmlns='${NS_OWNER}'><affiliations node='managed'><affiliation jid='bob@${host}' affiliation='king'/></affiliations></pubsub>`, 'set', service), stanzaError('bad-request'));
    for (const x of [a, b, c]) x.close();
  });

  test("accounts of another host may use the service but not create nodes (access_create: this host's accounts)", async () => {
    const foreign = await login('carol', 'visitor', otherHost(host));
    assertStanza(await iq(foreign, `<pubsub xmlns='${NS_PUBSUB}'><create node='visitor'/></pubsub>`, 'set', service), stanzaError('forbidden'));
    const a = await login('alice', 'open');
    await iq(a, `<pubsub xmlns='${NS_PUBSUB}'><create node='public'/></pubsub>`, 'set', service);
    await iq(foreign, `<pubsub xmlns='${NS_PUBSUB}'><subscribe node='public' jid='carol@${otherHost(host)}'/></pubsub>`, 'set', service);
    await iq(a, publishXml('public', 'p1', "<p xmlns='urn:example:p'/>"), 'set', service);
    await expectEvent(foreign, 'public', /p1/);
    const b = await login('bob', 'unsubscribed');
    await assertNoEvent(b, 'public', 'only subscribers are notified');
    for (const x of [foreign, a, b]) x.close();
  });
});

describe('options', () => {
  test('host names the domain (@HOST@ per host); access_create names the rule for creators; auto_create creates on publish', async () => {
    const s = await startPubsubServer({
      pubsub: { host: 'feeds.@HOST@', access_create: 'pubsub_creators', auto_create: true },
      extra: { access_rules: { pubsub_creators: [{ allow: 'admin' }, { deny: 'all' }] } },
    });
    try {
      for (const host of HOSTS) {
        await s.addUser('admin', 'pw-admin', host);
        await s.addUser('alice', 'pw-alice', host);
        const admin = (await RawClient.login(s.c2sPort, 'admin', 'pw-admin', 'r', { host })).c;
        const alice = (await RawClient.login(s.c2sPort, 'alice', 'pw-alice', 'r', { host })).c;
        const feeds = `feeds.${host}`;
        assertStanza(await iq(alice, "<query xmlns='http://jabber.org/protocol/disco#items'/>", 'get', host), iqResult({ name: 'query', has: [{ name: 'item', attrs: { jid: feeds } }] }));
        assertStanza(await iq(alice, `<pubsub xmlns='${NS_PUBSUB}'><create node='a'/></pubsub>`, 'set', feeds), stanzaError('forbidden'));
        assertStanza(await iq(alice, publishXml('auto', '1', "<x xmlns='urn:example:x'/>"), 'set', feeds), stanzaError('forbidden'));
        // each host's admin (host_config ACL) may; publishing creates the node
        assertStanza(await iq(admin, publishXml('auto', '1', "<x xmlns='urn:example:x'/>"), 'set', feeds), iqResult({ name: 'pubsub' }));
        assertStanza(await iq(alice, `<pubsub xmlns='${NS_PUBSUB}'><items node='auto'/></pubsub>`, 'get', feeds), iqResult({ name: 'pubsub', children: [{ name: 'items', children: [{ name: 'item', attrs: { id: '1' } }] }] }));
        assertStanza(await iq(alice, "<query xmlns='http://jabber.org/protocol/disco#info'/>", 'get', feeds), discoFeature(`${NS_PUBSUB}#auto-create`));
        admin.close();
        alice.close();
      }
    } finally {
      await s.stop();
    }
  });

  test('a host option that is not a subdomain name stops the start with the option path', async () => {
    await assert.rejects(startPubsubServer({ pubsub: { host: 'not a domain' } }), /modules\.pubsub\.host/);
  });
});
