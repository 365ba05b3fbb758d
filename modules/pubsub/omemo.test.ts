// OMEMO key publication over PEP with third-party clients, on every host: an account publishes its device
// list (eu.siacs.conversations.axolotl.devicelist, publish-options access_model=open) and a bundle; a
// contact's client, whose caps ask for device-list notifications, receives the list and fetches the bundle
// by item id. With @xmpp/client from npm, and with Debian's slixmpp (its xep_0060 / xep_0163 plugins).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Element } from '@xmpp/xml';
import type { TestServer } from '../../test/support/harness.js';
import { forEachHost, HOSTS } from '../../test/support/each-host.js';
import { runSlixmppOk, slixmppTestOptions } from '../../test/support/slixmpp.js';
import { befriend, NS_PUBSUB, startPubsubServer } from './test-support.js';

// @xmpp/client verifies the server certificate and has no CA option; the test server's is self-signed.
// Each test file runs in its own process, so this affects no other test.
process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';

interface XmppClient {
  start(): Promise<{ toString(): string }>;
  stop(): Promise<unknown>;
  send(el: Element): Promise<void>;
  on(event: 'stanza', fn: (el: Element) => void): void;
  on(event: 'error', fn: (err: Error) => void): void;
  iqCaller: { request(el: Element, timeoutMs?: number): Promise<Element> };
  iqCallee: { get(ns: string, name: string, handler: (ctx: { stanza: Element; element: Element }) => Element | undefined): void };
  reconnect: { stop(): void };
}
const lib = (await import('@xmpp/client' as string)) as {
  client: (o: { service: string; domain: string; username: string; password: string; resource?: string; timeout?: number }) => XmppClient;
  xml: typeof import('@xmpp/xml').xml;
};
const { xml } = lib;

const SCRIPTS = fileURLToPath(new URL('../../../test/e2e/slixmpp/', import.meta.url));
const NS_AXOLOTL = 'eu.siacs.conversations.axolotl';
const DEVICELIST = `${NS_AXOLOTL}.devicelist`;
const BUNDLE = `${NS_AXOLOTL}.bundles:4242`;
const DISCO_INFO = 'http://jabber.org/protocol/disco#info';

let t: TestServer;
const running: XmppClient[] = [];

before(async () => {
  t = await startPubsubServer();
  for (const host of HOSTS) {
    for (const u of ['alice', 'bob', 'sli', 'xmp']) await t.addUser(u, `pw-${u}`, host);
    await befriend(t, host, 'alice', 'bob');
    await befriend(t, host, 'sli', 'xmp');
  }
});
after(async () => {
  for (const c of running) await c.stop().catch(() => undefined);
  await t.stop();
});

/** An @xmpp/client session on `host` that announces XEP-0115 caps with `features` and answers disco#info. */
async function xmppjs(host: string, user: string, features: string[]): Promise<{ x: XmppClient; stanzas: Element[]; jid: string }> {
  const x = lib.client({ service: `xmpp://127.0.0.1:${t.c2sPort}`, domain: host, username: user, password: `pw-${user}`, resource: 'xmppjs', timeout: 15_000 });
  // (timeout: how long @xmpp/connection waits for each answer, 2 s by default: too short on a loaded machine)
  x.reconnect.stop();
  x.on('error', () => undefined);
  const stanzas: Element[] = [];
  x.on('stanza', (el) => stanzas.push(el));
  const capsNode = 'https://github.com/xmppjs/xmpp.js';
  x.iqCallee.get(DISCO_INFO, 'query', ({ element }) =>
    xml('query', { xmlns: DISCO_INFO, ...(element.attrs.node ? { node: element.attrs.node } : {}) },
      xml('identity', { category: 'client', type: 'pc', name: 'xmpp.js' }),
      ...[DISCO_INFO, ...features].map((f) => xml('feature', { var: f }))));
  const jid = (await x.start()).toString();
  running.push(x);
  // The hash is not checked by the test caps provider; a real client sends its XEP-0115 §5 hash here.
  await x.send(xml('presence', {}, xml('c', { xmlns: 'http://jabber.org/protocol/caps', hash: 'sha-1', node: capsNode, ver: `v${Date.now()}${user}` })));
  return { x, stanzas, jid };
}

const publishOpen = (node: string, payload: Element) =>
  xml('iq', { type: 'set' }, xml('pubsub', { xmlns: NS_PUBSUB },
    xml('publish', { node }, xml('item', { id: 'current' }, payload)),
    xml('publish-options', {}, xml('x', { xmlns: 'jabber:x:data', type: 'submit' },
      xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, `${NS_PUBSUB}#publish-options`)),
      xml('field', { var: 'pubsub#access_model' }, xml('value', {}, 'open'))))));

async function until<T>(fn: () => T | undefined, what: string, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

forEachHost((host) => {
  test('@xmpp/client: alice publishes her device list and a bundle (open), bob is notified and fetches the bundle by id', async () => {
    const bob = await xmppjs(host, 'bob', [`${DEVICELIST}+notify`]);
    const alice = await xmppjs(host, 'alice', []);
    const list = xml('list', { xmlns: NS_AXOLOTL }, xml('device', { id: '4242' }), xml('device', { id: '1717' }));
    const r = await alice.x.iqCaller.request(publishOpen(DEVICELIST, list));
    assert.equal(r.getChild('pubsub')?.getChild('publish')?.getChild('item')?.attrs.id, 'current');
    await alice.x.iqCaller.request(publishOpen(BUNDLE, xml('bundle', { xmlns: NS_AXOLOTL }, xml('signedPreKeyPublic', { signedPreKeyId: '1' }, 'KEY4242'), xml('identityKey', {}, 'ID4242'))));

    const ev = await until(() => bob.stanzas.find((s) => s.name === 'message' && s.getChild('event')?.getChild('items')?.attrs.node === DEVICELIST), 'the device list notification');
    assert.equal(ev.attrs.from, `alice@${host}`);
    const item = ev.getChild('event')!.getChild('items')!.getChild('item')!;
    assert.equal(item.attrs.id, 'current');
    assert.deepEqual(item.getChild('list')!.getChildren('device').map((d) => d.attrs.id), ['4242', '1717']);

    const got = await bob.x.iqCaller.request(xml('iq', { type: 'get', to: `alice@${host}` }, xml('pubsub', { xmlns: NS_PUBSUB }, xml('items', { node: BUNDLE }, xml('item', { id: 'current' })))));
    const bundle = got.getChild('pubsub')!.getChild('items')!.getChild('item')!.getChild('bundle')!;
    assert.equal(bundle.getChildText('signedPreKeyPublic'), 'KEY4242');
    assert.equal(bundle.attrs.xmlns, NS_AXOLOTL);
  });

  test('slixmpp (xep_0060, xep_0163): sli publishes her device list and a bundle (open), xmp is notified and fetches the bundle by id', slixmppTestOptions, async () => {
    const r = await runSlixmppOk(join(SCRIPTS, 'pep_omemo.py'), [t.c2sPort, `sli@${host}/slixmpp`, 'pw-sli', `xmp@${host}/slixmpp`, 'pw-xmp'], SCRIPTS);
    assert.equal(r.one('devicelist_published').id, 'current', r.transcript);
    const n = r.one('bob_notified');
    assert.deepEqual([n.sender, n.node, n.item, n.devices], [`sli@${host}`, DEVICELIST, 'current', ['31415', '27182']], r.transcript);
    assert.deepEqual(r.one('bundle_fetched'), { event: 'bundle_fetched', item: 'current', signedPreKeyPublic: 'BASE64KEY' }, r.transcript);
    const again = r.one('republish');
    assert.equal(again.error, 'conflict', r.transcript);
    assert.equal(again.precondition_not_met, true, r.transcript);
  });
});
