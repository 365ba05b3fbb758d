// XEP-0191 §3.3/§3.4 presence side effects with the roster and presence modules (RFC 6121 subscriptions
// made over the wire): blocking sends unavailable to a subscribed contact, unblocking sends presence back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import type { RawClient } from '../../test/support/raw-client.js';
import { assertBlockedError, block, login as loginAt, presenceFrom, sync, take, unblock } from './test-helpers.js';

let t: TestServer;
const open: RawClient[] = [];

async function login(user: string, resource: string): Promise<RawClient> {
  const c = await loginAt(t.c2sPort, user, resource);
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
  for (const u of ['alice', 'bob', 'carol']) await t.addUser(u, `pw-${u}`);
});
after(async () => {
  for (const c of open) c.close();
  await t.stop();
});

test('with roster and presence: subscribed bob sees alice go unavailable when she blocks him, and her presence again when she unblocks', async (ctx) => {
  // Needs the real RFC 6121 modules; while they are placeholders there are no subscriptions to act on.
  if (t.server.core.services.get('localhost', 'roster') === undefined || t.server.core.hooks.count('presence_in') === 0) {
    ctx.skip('the roster/presence modules are placeholders (no roster service, no presence_in handler)');
    return;
  }
  const alice = await login('alice', 'desk');
  const bob = await login('bob', 'home');
  const carol = await login('carol', 'work');
  await subscribe(bob, 'bob@localhost', alice, 'alice@localhost');
  await subscribe(alice, 'alice@localhost', bob, 'bob@localhost');
  await subscribe(carol, 'carol@localhost', alice, 'alice@localhost');
  for (const c of [alice, bob, carol]) {
    await sync(c);
    c.buffer = '';
  }

  // §3.3: bob may see alice's presence ('from' subscription), so he gets unavailable from her resource.
  await block(alice, 'bob@localhost');
  const gone = await take(bob, presenceFrom('alice@localhost/desk'));
  assert.match(gone, /type=["']unavailable["']/);
  await sync(carol);
  assert.doesNotMatch(carol.buffer, /<presence/, 'carol is not told anything');

  // Alice's presence updates reach carol, not bob, and alice gets no error for the broadcast.
  alice.send('<presence><show>away</show></presence>');
  assert.match(await take(carol, presenceFrom('alice@localhost/desk')), /<show>away<\/show>/);
  await sync(alice);
  assert.doesNotMatch(alice.buffer, /type=["']error["']/);
  await sync(bob);
  assert.doesNotMatch(bob.buffer, /from=["']alice@localhost/);
  // Bob's presence does not reach alice; her directed presence to him is refused (§3.3).
  bob.send('<presence><show>dnd</show></presence>');
  await sync(bob);
  await sync(alice);
  assert.doesNotMatch(alice.buffer, /from=["']bob@localhost/);
  alice.send("<presence to='bob@localhost' id='dp1'/>");
  assertBlockedError(await take(alice, new RegExp(`<presence(?=[^>]*id=["']dp1["'])[\\s\\S]*?</presence>`)));

  // §3.4: unblocking sends alice's current presence to bob, and her probe brings his back to her.
  await unblock(alice, 'bob@localhost');
  assert.match(await take(bob, presenceFrom('alice@localhost/desk')), /<show>away<\/show>/);
  assert.match(await take(alice, presenceFrom('bob@localhost/home')), /<show>dnd<\/show>/);
  await sync(carol);
  assert.doesNotMatch(carol.buffer, /from=["']bob@localhost/, 'carol is no contact of bob');
});
