// XEP-0191 §3.3/§3.4 presence side effects with the roster and presence modules (RFC 6121 subscriptions
// made over the wire): blocking sends unavailable to a subscribed contact, unblocking sends presence back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import type { RawClient } from '../../test/support/raw-client.js';
import { forEachHost, HOSTS } from '../../test/support/each-host.js';
import { assertNoStanza, assertStanza, parseStanzas } from '../../test/support/stanza-match.js';
import { assertBlockedError, block, login as loginAt, presenceFrom, sync, take, unblock } from './test-helpers.js';

let t: TestServer;
const open: RawClient[] = [];

async function login(user: string, resource: string, domain: string): Promise<RawClient> {
  const c = await loginAt(t.c2sPort, user, resource, { domain });
  open.push(c);
  return c;
}

const presenceOfType = (type: string) => new RegExp(`<presence(?=[^>]*type=["']${type}["'])[^>]*?(?:/>|>[\\s\\S]*?</presence>)`);

/** `sub` asks to see `owner`'s presence and `owner` approves (RFC 6121 §3.1), over the wire. */
async function subscribe(sub: RawClient, subBare: string, owner: RawClient, ownerBare: string): Promise<void> {
  sub.send(`<presence to='${ownerBare}' type='subscribe'/>`);
  await take(owner, presenceOfType('subscribe'));
  owner.send(`<presence to='${subBare}' type='subscribed'/>`);
  await take(sub, presenceOfType('subscribed'));
}

before(async () => {
  t = await startTestServer({ modules: { disco: {}, ping: {}, roster: {}, presence: {}, blocking: {} } });
  for (const host of HOSTS) for (const u of ['alice', 'bob', 'carol']) await t.addUser(u, `pw-${u}`, host);
});
after(async () => {
  for (const c of open) c.close();
  await t.stop();
});

/** The stanzas in `buffer` from `bare` or one of its resources. */
const fromUser = (buffer: string, bare: string) =>
  parseStanzas(buffer).filter((el) => String(el.attrs.from ?? '').split('/')[0] === bare).map(String);

forEachHost((host) => {
  test('with roster and presence: subscribed bob sees alice go unavailable when she blocks him, and her presence again when she unblocks', async () => {
    assert.ok(t.server.core.services.get(host, 'roster'), 'the roster module provides its service');
    const alice = await login('alice', 'desk', host);
    const bob = await login('bob', 'home', host);
    const carol = await login('carol', 'work', host);
    await subscribe(bob, `bob@${host}`, alice, `alice@${host}`);
    await subscribe(alice, `alice@${host}`, bob, `bob@${host}`);
    await subscribe(carol, `carol@${host}`, alice, `alice@${host}`);
    for (const c of [alice, bob, carol]) {
      await sync(c);
      c.buffer = '';
    }

    // §3.3: bob may see alice's presence ('from' subscription), so he gets unavailable from her resource.
    await block(alice, `bob@${host}`);
    const gone = await take(bob, presenceFrom(`alice@${host}/desk`));
    assertStanza(gone, { name: 'presence', attrs: { type: 'unavailable' } });
    await sync(carol);
    assertNoStanza(carol.buffer, { name: 'presence' }, 'carol is not told anything');

    // Alice's presence updates reach carol, not bob, and alice gets no error for the broadcast.
    alice.send('<presence><show>away</show></presence>');
    assertStanza(await take(carol, presenceFrom(`alice@${host}/desk`)), { name: 'presence', has: [{ name: 'show', text: 'away' }] });
    await sync(alice);
    assert.deepEqual(parseStanzas(alice.buffer).filter((el) => el.attrs.type === 'error').map(String), []);
    await sync(bob);
    assert.deepEqual(fromUser(bob.buffer, `alice@${host}`), []);
    // Bob's presence does not reach alice; her directed presence to him is refused (§3.3).
    bob.send('<presence><show>dnd</show></presence>');
    await sync(bob);
    await sync(alice);
    assert.deepEqual(fromUser(alice.buffer, `bob@${host}`), []);
    alice.send(`<presence to='bob@${host}' id='dp1'/>`);
    assertBlockedError(await take(alice, new RegExp(`<presence(?=[^>]*id=["']dp1["'])[\\s\\S]*?</presence>`)));

    // §3.4: unblocking sends alice's current presence to bob, and her probe brings his back to her.
    await unblock(alice, `bob@${host}`);
    assertStanza(await take(bob, presenceFrom(`alice@${host}/desk`)), { name: 'presence', has: [{ name: 'show', text: 'away' }] });
    assertStanza(await take(alice, presenceFrom(`bob@${host}/home`)), { name: 'presence', has: [{ name: 'show', text: 'dnd' }] });
    await sync(carol);
    assert.deepEqual(fromUser(carol.buffer, `bob@${host}`), [], 'carol is no contact of bob');
  });
});
