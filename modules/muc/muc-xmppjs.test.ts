// A real client in a room (XEP-0045 §7): @xmpp/client 0.14 from npm with its default settings, in its own Node
// process trusting the server's CA through NODE_EXTRA_CA_CERTS (as the client matrix runs it), enters a room a
// raw client created, gets the history and the subject, receives and sends groupchat messages, changes its nick
// (303) and leaves.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { startJsonLines } from '../../test/support/slixmpp.js';
import { ALICE, startMatrixServer, type MatrixServer } from '../../test/e2e/clients/matrix.js';
import { MUC_MODULES, codes, createInstant, item, messageFrom, next, presenceFrom } from './test-support.js';

const SCRIPT = fileURLToPath(new URL('../../../test/e2e/clients/xmppjs_muc_occupant.mjs', import.meta.url));
const ROOM = 'lounge@conference.localhost';
let s: MatrixServer;

before(async () => {
  s = await startMatrixServer('TLSv1.3', { modules: MUC_MODULES });
});
after(() => s?.stop());

test('@xmpp/client with its defaults enters a room bob created, gets history and subject, chats, changes nick and leaves', async () => {
  const bob = s.bob;
  await createInstant(bob, ROOM, 'Bob');
  bob.send(`<message type='groupchat' to='${ROOM}' id='h1'><body>said before alice came</body></message>`);
  await next(bob, messageFrom(`${ROOM}/Bob`));
  bob.send(`<message type='groupchat' to='${ROOM}' id='s1'><subject>Tea and biscuits</subject></message>`);
  await next(bob, messageFrom(`${ROOM}/Bob`));

  const p = startJsonLines(process.execPath, [SCRIPT, s.port('starttls'), 'alice', ALICE.password, ROOM, 'Alice', 'Alice2', 'hello from xmpp.js'], { env: { NODE_EXTRA_CA_CERTS: s.caFile } });
  const self = await p.event('self');
  assert.deepEqual(self.codes, [110]);
  assert.equal(self.role, 'participant');
  assert.equal(self.affiliation, 'none');
  const entered = await next(bob, presenceFrom(`${ROOM}/Alice`));
  assert.match(item(entered).jid ?? '', /^alice@localhost\/./, 'bob, a moderator, sees her real JID (§4.2)');
  const subject = await p.event('subject');
  assert.deepEqual([subject.from, subject.subject], [`${ROOM}/Bob`, 'Tea and biscuits']);

  bob.send(`<message type='groupchat' to='${ROOM}' id='live1'><body>welcome alice</body></message>`);
  const reply = await next(bob, messageFrom(`${ROOM}/Alice`));
  assert.equal(reply.getChildText('body'), 'hello from xmpp.js');
  const gone = await next(bob, presenceFrom(`${ROOM}/Alice`));
  assert.equal(gone.attrs.type, 'unavailable');
  assert.deepEqual(codes(gone), [303]);
  assert.equal(item(gone).nick, 'Alice2');
  assert.equal((await next(bob, presenceFrom(`${ROOM}/Alice2`))).attrs.type, undefined);
  assert.equal((await next(bob, presenceFrom(`${ROOM}/Alice2`))).attrs.type, 'unavailable');

  const r = await p.done;
  assert.equal(r.code, 0, r.transcript);
  // the history came first (delayed by the room, XEP-0203), then the subject, then the live message
  const history = r.one('history');
  assert.equal(history.from, `${ROOM}/Bob`);
  assert.equal(history.body, 'said before alice came');
  assert.equal(history.delay_from, ROOM);
  assert.ok(!Number.isNaN(Date.parse(String(history.stamp))));
  const order = r.events.map((e) => e.event);
  assert.ok(order.indexOf('history') < order.indexOf('subject') && order.indexOf('subject') < order.indexOf('live'), order.join(','));
  assert.deepEqual([r.one('live').from, r.one('live').body], [`${ROOM}/Bob`, 'welcome alice']);
  assert.equal(r.one('reflected').body, 'hello from xmpp.js');
  assert.deepEqual([r.one('nick_changed').codes, r.one('nick_changed').nick], [[110, 303], 'Alice2']);
  assert.deepEqual(r.one('renamed').codes, [110]);
  assert.equal(r.one('left').role, 'none');
  assert.ok(!r.has('error') && !r.has('presence_error'), r.transcript);
});
