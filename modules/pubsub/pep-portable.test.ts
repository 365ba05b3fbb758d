// PEP's share of XEP-0227 over the admin data.export / data.import commands, on every host: nodes with
// their configuration and items go out as <pubsub xmlns='…#owner'><configure/> and <pubsub><items/>, and a
// fresh server serves them after the import; and pep_item_published runs for stored and retracted items.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestServer } from '../../test/support/harness.js';
import { forEachHost, HOSTS } from '../../test/support/each-host.js';
import { admin } from '../../test/e2e/portable-support.js';
import { assertStanza, iqResult, parseStanza } from '../../test/support/stanza-match.js';
import { NS_OWNER, NS_PUBSUB, capsLogin, iq, publishXml, startPubsubServer } from './test-support.js';

let tmp: string;
let a: TestServer;
let b: TestServer;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'xmppd-pep-portable-'));
  a = await startPubsubServer();
  b = await startPubsubServer();
  for (const host of HOSTS) await a.addUser('alice', 'pw-alice', host);
});
after(async () => {
  await a.stop();
  await b.stop();
  await rm(tmp, { recursive: true, force: true });
});

forEachHost((host) => {
  test('export writes the nodes (configuration, items oldest first); import into a fresh server serves them', async () => {
    const c = await capsLogin(a, 'alice', host, 'export');
    await iq(c.c, publishXml('urn:example:multi', 'one', "<m xmlns='urn:example:m'>1</m>", { 'pubsub#max_items': '5', 'pubsub#access_model': 'open' }), 'set');
    await iq(c.c, publishXml('urn:example:multi', 'two', "<m xmlns='urn:example:m'>2</m>"), 'set');
    c.c.close();
    const file = join(tmp, `export-${host}.xml`);
    const r = await admin(a, 'data.export', { file });
    assert.ok(r.pepItems >= 2, JSON.stringify(r));
    const text = await readFile(file, 'utf8');
    assert.match(text, new RegExp(`<pubsub xmlns=["']${NS_OWNER}["']><configure node=["']urn:example:multi["']><x xmlns=["']jabber:x:data["'] type=["']submit["']>`));
    assert.match(text, new RegExp(`<pubsub xmlns=["']${NS_PUBSUB}["']><items node=["']urn:example:multi["']><item id=["']one["'][^>]*><m xmlns=["']urn:example:m["']>1</m></item><item id=["']two["']`));

    await admin(b, 'data.import', { file });
    const d = await capsLogin(b, 'alice', host, 'import');
    const got = await iq(d.c, `<pubsub xmlns='${NS_PUBSUB}'><items node='urn:example:multi'/></pubsub>`);
    assert.deepEqual(parseStanza(got).getChild('pubsub')!.getChild('items')!.getChildren('item').map((i) => i.attrs.id), ['two', 'one']);
    const cfg = await iq(d.c, `<pubsub xmlns='${NS_OWNER}'><configure node='urn:example:multi'/></pubsub>`);
    assertStanza(cfg, iqResult({ name: 'pubsub', children: [{ name: 'configure', children: [{ name: 'x', has: [{ name: 'field', attrs: { var: 'pubsub#access_model' }, has: [{ name: 'value', text: 'open' }] }] }] }] }));
    d.c.close();
  });

  test('pep_item_published runs after an item is stored and after it is retracted', async () => {
    const seen: string[] = [];
    const off = a.server.core.hooks.on('pep_item_published', ({ owner, node, itemId, payload, publisher }) => {
      seen.push(`${owner} ${node} ${itemId} ${payload ? payload.getText() : 'null'} ${publisher.bare()}`);
    }, 50, 'test', host);
    try {
      const c = await capsLogin(a, 'alice', host, 'hook');
      await iq(c.c, publishXml('urn:example:hooked', 'h1', "<h xmlns='urn:example:h'>hi</h>"), 'set');
      await iq(c.c, `<pubsub xmlns='${NS_PUBSUB}'><retract node='urn:example:hooked'><item id='h1'/></retract></pubsub>`, 'set');
      c.c.close();
    } finally {
      off();
    }
    assert.deepEqual(seen, [`alice@${host} urn:example:hooked h1 hi alice@${host}`, `alice@${host} urn:example:hooked h1 null alice@${host}`]);
  });
});
