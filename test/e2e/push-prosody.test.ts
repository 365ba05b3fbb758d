// XEP-0357 with a real app server push service: Prosody 0.12's pubsub component (Debian package) over s2s.
// bob on Prosody owns a node on pubsub.prosody.example (publish_model open, as a push service takes
// publishes from users' servers) and subscribes to it; alice on xmppd enables push to that node and goes
// offline; bob's message to alice makes xmppd publish the notification from alice@xmppd.example over
// federation, and Prosody broadcasts it to bob. A registration for a node Prosody refuses is disabled.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestCa } from './interop/test-ca.js';
import { XmppdPeer } from './interop/xmppd-peer.js';
import { DnsResponder } from './interop/dns-responder.js';
import { ProsodyPeer, prosodyUnavailable } from './interop/prosody.js';
import { freePorts, until } from './interop/net-util.js';
import { login, nextMessage, stanzaWithId } from './interop/xmpp-client.js';
import { parseStanza } from '../support/stanza-match.js';
import { Jid } from '../../src/core/jid.js';

const unavailable = prosodyUnavailable();
// Project policy: skip visibly on a developer machine without Prosody, never in CI (there it fails).
const skip = unavailable !== null && process.env.CI !== 'true' ? unavailable : false;

const X = 'xmppd.example';
const P = 'prosody.example';
const PUBSUB = `pubsub.${P}`;
const NODE = 'xmppd-push-alice';
const NS_PUSH = 'urn:xmpp:push:0';
const tmp = mkdtempSync(join(tmpdir(), 'xmppd-push-prosody-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('XEP-0357 notifications published to Prosody\'s pubsub component over s2s', { skip }, () => {
  let dns: DnsResponder;
  let xmppd: XmppdPeer;
  let prosody: ProsodyPeer;

  before(async () => {
    if (unavailable) throw new Error(`${unavailable} (CI=true: the Prosody interop tests are required)`);
    const [xS2s, pC2s, pS2s] = await freePorts(3);
    dns = new DnsResponder();
    const dnsPort = await dns.start();
    const ca = new TestCa(tmp, 'push CA');
    const xCert = ca.issue('push-xmppd', { dns: [X], xmppAddr: [X] });
    const pCert = ca.issue('push-prosody', { dns: [P, PUBSUB] }); // the component is served under its own name
    dns.xmppServer(X, { port: xS2s });
    dns.xmppServer(P, { port: pS2s });
    dns.xmppServer(PUBSUB, { port: pS2s });
    xmppd = await XmppdPeer.start({
      domain: X, s2sPort: xS2s!, cert: xCert,
      s2s: { dns_servers: [`127.0.0.1:${dnsPort}`], connect_timeout: 10, cafile: ca.certFile, policy: 'require_valid_cert' },
      config: { modules: { disco: {}, ping: {}, roster: {}, presence: {}, offline: {}, push: { min_interval: 0 } } },
      users: { alice: 'pw-alice' },
    });
    prosody = new ProsodyPeer({
      dir: join(tmp, 'prosody'), domain: P, c2sPort: pC2s!, s2sPort: pS2s!, cert: pCert, cafile: ca.certFile, secureAuth: true, dnsPort,
      // bob administers the pubsub service (creates the push node); the component follows the global section,
      // expose_publisher: events name who published (checks the notification came from alice's bare JID).
      extra: [`admins = { "bob@${P}" }`, `Component "${PUBSUB}" "pubsub"`, '  expose_publisher = true'],
    });
    prosody.adduser('bob', 'pw-bob');
    await prosody.start();
  });
  after(async () => {
    await prosody?.stop();
    await xmppd?.stop();
    await dns?.stop();
  });

  test('bob\'s message to offline alice reaches Prosody\'s node as a notification from alice@xmppd.example; bob, subscribed, gets the event', async () => {
    const bob = (await login(prosody.opts.c2sPort, P, 'bob', 'pw-bob', { resource: 'b' })).c;
    // The app server's side: a node that takes publishes from users' servers, and bob subscribed to it.
    bob.send(`<iq type='set' to='${PUBSUB}' id='create'><pubsub xmlns='http://jabber.org/protocol/pubsub'><create node='${NODE}'/><configure><x xmlns='jabber:x:data' type='submit'>`
      + `<field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#node_config</value></field>`
      + `<field var='pubsub#publish_model'><value>open</value></field></x></configure></pubsub></iq>`);
    assert.match(await stanzaWithId(bob, 'create', 15_000), /type=["']result["']/);
    bob.send(`<iq type='set' to='${PUBSUB}' id='sub'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='${NODE}' jid='bob@${P}'/></pubsub></iq>`);
    assert.match(await stanzaWithId(bob, 'sub', 15_000), /type=["']result["']/);

    const alice = (await login(xmppd.c2sPort, X, 'alice', 'pw-alice', { resource: 'phone' })).c;
    alice.send(`<iq type='set' id='en'><enable xmlns='${NS_PUSH}' jid='${PUBSUB}' node='${NODE}'><x xmlns='jabber:x:data'>`
      + `<field var='FORM_TYPE'><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var='secret'><value>s3cr3t</value></field></x></enable></iq>`);
    assert.match(await stanzaWithId(alice, 'en'), /type=["']result["']/);
    alice.close();
    await until(() => xmppd.t.server.core.sessions.resources(Jid.parse(`alice@${X}`)).length === 0, 'alice offline');

    bob.send(`<message to='alice@${X}' type='chat' id='hello'><body>are you there?</body></message>`);
    const event = await nextMessage(bob, new RegExp(`from=["']${PUBSUB.replace(/\./g, '\\.')}["']`), 30_000)
      .catch((err) => assert.fail(`${err.message}\n${prosody.logTail()}`));
    const el = parseStanza(event);
    const items = el.getChild('event', 'http://jabber.org/protocol/pubsub#event')!.getChild('items')!;
    assert.equal(items.attrs.node, NODE);
    const item = items.getChild('item')!;
    assert.equal(item.attrs.publisher, `alice@${X}`, 'published from the account\'s bare JID (XEP-0357 §7)');
    const form = item.getChild('notification', NS_PUSH)!.getChild('x', 'jabber:x:data')!;
    const fields = Object.fromEntries(form.getChildren('field').map((f) => [f.attrs.var, f.getChildText('value')]));
    assert.deepEqual(fields, { FORM_TYPE: 'urn:xmpp:push:summary', 'message-count': '1', 'last-message-sender': `bob@${P}/b` });
    // Prosody accepted the publish (its result came back over s2s): counted as sent.
    await until(async () => /result="sent"\} 1(\n|$)/.test(await xmppd.t.server.core.metrics.registry.getSingleMetricAsString('xmppd_push_notifications_total')), 'the notification counted as sent');
    bob.close();
  });

  test('a registration for a node Prosody refuses (none there) is disabled after the first notification', async () => {
    const alice = (await login(xmppd.c2sPort, X, 'alice', 'pw-alice', { resource: 'phone2' })).c;
    alice.send(`<iq type='set' id='en2'><enable xmlns='${NS_PUSH}' jid='${PUBSUB}' node='no-such-node'/></iq>`);
    assert.match(await stanzaWithId(alice, 'en2'), /type=["']result["']/);
    alice.send(`<iq type='set' id='dis'><disable xmlns='${NS_PUSH}' jid='${PUBSUB}' node='${NODE}'/></iq>`); // only the refused one left
    assert.match(await stanzaWithId(alice, 'dis'), /type=["']result["']/);
    alice.close();
    await until(() => xmppd.t.server.core.sessions.resources(Jid.parse(`alice@${X}`)).length === 0, 'alice offline');
    const table = xmppd.t.server.core.store.table('push_registrations');
    assert.equal((await table.range({ prefix: `${X}/alice\u0000` })).length, 1);

    const bob = (await login(prosody.opts.c2sPort, P, 'bob', 'pw-bob', { resource: 'c' })).c;
    bob.send(`<message to='alice@${X}' type='chat'><body>again</body></message>`);
    await until(async () => (await table.range({ prefix: `${X}/alice\u0000` })).length === 0, 'the refused registration is disabled', 30_000);
    assert.match(await xmppd.t.server.core.metrics.registry.getSingleMetricAsString('xmppd_push_registrations_disabled_total'), new RegExp(`host="${X.replace(/\./g, '\\.')}"\\} 1(\\n|$)`));
    bob.close();
  });
});
