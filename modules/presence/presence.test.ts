// RFC 6121 §4 over real sockets: presence broadcast at login with probes answered, logout and dropped
// connections, directed presence and its cleanup, priority, several resources of one account, probes,
// presence errors and account removal.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Jid } from '../../src/sdk.js';
import type { TestServer } from '../../test/support/harness.js';
import { forEachHost, HOSTS } from '../../test/support/each-host.js';
import { assertSomeStanza, assertStanza, stanzaError, type StanzaShape } from '../../test/support/stanza-match.js';
import { assertNothing, expectAll, login as loginOn, makeBoth, rosterPush, startImServer, state, sync, iq } from '../roster/test-support.js';

let t: TestServer;
before(async () => {
  t = await startImServer();
  for (const host of HOSTS) {
    for (const u of ['alice', 'bob', 'carol', 'dave', 'eve', 'gus', 'hal']) await t.addUser(u, `pw-${u}`, host);
    // alice <-> bob and alice <-> carol subscribed both ways
    const a = await loginOn(t, 'alice', 'setup', { host });
    const b = await loginOn(t, 'bob', 'setup', { host });
    const c = await loginOn(t, 'carol', 'setup', { host });
    await makeBoth(a, b, `alice@${host}`, `bob@${host}`);
    await makeBoth(a, c, `alice@${host}`, `carol@${host}`);
    for (const x of [a, b, c]) x.c.close();
  }
});
after(() => t.stop());

/** An available presence (no type) from `jid`. */
const avail = (jid: string): StanzaShape => ({ name: 'presence', attrs: { from: jid, type: null } });
const unavail = (jid: string): StanzaShape => ({ name: 'presence', attrs: { from: jid, type: 'unavailable' } });

forEachHost((host) => {
  const login = (tt: TestServer, user: string, resource: string, opts: Parameters<typeof loginOn>[3] = {}) => loginOn(tt, user, resource, { ...opts, host });
  test('alice logs in after bob: her probe is answered at once with his presence, he gets hers (§4.2, §4.3)', async () => {
    const b = await login(t, 'bob', 'phone', { presence: "<presence><show>away</show><status>at lunch</status><priority>3</priority></presence>" });
    const a = await login(t, 'alice', 'laptop');
    // bob's last presence, as he sent it, stamped with his full JID; and alice's own broadcast echoed to her
    assertSomeStanza(a.received, { name: 'presence', attrs: { from: `bob@${host}/phone` }, children: [{ name: 'show', text: 'away' }, { name: 'status', text: 'at lunch' }, { name: 'priority', text: '3' }] });
    assertSomeStanza(a.received, avail(`alice@${host}/laptop`), 'the initial presence goes to the sending resource too');
    await expectAll(b.c, { name: 'presence', attrs: { from: `alice@${host}/laptop`, to: `bob@${host}` } });
    // a presence update (§4.4) reaches bob too; probes are never shown to anyone
    a.c.send('<presence><show>dnd</show></presence>');
    const [upd] = await expectAll(b.c, { name: 'presence', attrs: { from: `alice@${host}/laptop` }, has: [{ name: 'show', text: 'dnd' }] });
    assertStanza(upd!, { name: 'presence', attrs: { type: null } });
    await assertNothing(b.c, { name: 'presence', attrs: { type: 'probe' } }, 'probes are answered by the server');
    await assertNothing(a.c, { name: 'presence', attrs: { type: 'probe' } }, 'probes are answered by the server');

    // logging out (§4.5): bob gets alice's unavailable with her status
    a.c.send("<presence type='unavailable'><status>bye for now</status></presence>");
    const [u] = await expectAll(b.c, unavail(`alice@${host}/laptop`));
    assertStanza(u!, { name: 'presence', has: [{ name: 'status', text: 'bye for now' }] });
    a.c.close();
    b.c.close();

    // bob comes back: the probe for alice, who has no resource left, is answered with her last unavailable
    const b2 = await login(t, 'bob', 'later');
    assertSomeStanza(b2.received, {
      name: 'presence', attrs: { type: 'unavailable', from: `alice@${host}/laptop` },
      has: [{ name: 'status', text: 'bye for now' }, { name: 'delay', ns: 'urn:xmpp:delay', attrs: { stamp: /./ } }],
    });
    b2.c.close();
  });

  test('a dropped TCP connection makes the user unavailable to contacts (§4.5, disconnect)', async () => {
    const b = await login(t, 'bob', 'watch');
    const a = await login(t, 'alice', 'flaky');
    await expectAll(b.c, { name: 'presence', attrs: { from: `alice@${host}/flaky` } });
    a.c.socket.destroy(); // no </stream:stream>, no unavailable presence
    await expectAll(b.c, unavail(`alice@${host}/flaky`));
    b.c.close();
  });

  test('directed presence (§4.6): dave, not a contact, hears alice come and go; a session never available too', async () => {
    const d = await login(t, 'dave', 'desk');
    const a = await login(t, 'alice', 'directed');
    a.c.send(`<presence to='dave@${host}/desk'><status>psst</status></presence>`);
    await expectAll(d.c, { name: 'presence', attrs: { from: `alice@${host}/directed` }, has: [{ name: 'status', text: 'psst' }] });
    // a directed presence to eve, then a directed unavailable to her: she is forgotten
    const e = await login(t, 'eve', 'x');
    a.c.send(`<presence to='eve@${host}/x'/>`);
    a.c.send(`<presence to='eve@${host}/x' type='unavailable'/>`);
    await expectAll(e.c, { name: 'presence', attrs: { from: `alice@${host}/directed`, type: 'unavailable' } });
    a.c.send("<presence type='unavailable'/>");
    await expectAll(d.c, unavail(`alice@${host}/directed`));
    await assertNothing(e.c, { name: 'presence', attrs: { from: `alice@${host}/directed` } }, 'eve was told already');
    a.c.close();

    // a session that never sent initial presence: its directed presence is undone when it disconnects
    const g = await login(t, 'gus', 'shy', { presence: false });
    g.c.send(`<presence to='dave@${host}/desk'/>`);
    await expectAll(d.c, { name: 'presence', attrs: { from: `gus@${host}/shy` } });
    g.c.socket.destroy();
    await expectAll(d.c, unavail(`gus@${host}/shy`));
    d.c.close();
    e.c.close();
  });

  test('priority (§4.7.2.3): a chat message to the bare JID skips a negative-priority resource; presence does not', async () => {
    const hi = await login(t, 'alice', 'hi', { presence: '<presence><priority>5</priority></presence>' });
    const neg = await login(t, 'alice', 'neg', { presence: '<presence><priority>-1</priority></presence>' });
    const b = await login(t, 'bob', 'sender');
    assertSomeStanza(hi.received + (await sync(hi.c)), { name: 'presence', attrs: { from: `bob@${host}/sender` } }, 'bob\'s presence reaches both');
    assertSomeStanza(neg.received + (await sync(neg.c)), { name: 'presence', attrs: { from: `bob@${host}/sender` } }, 'bob\'s presence reaches both');
    b.c.send(`<message to='alice@${host}' type='chat' id='m1'><body>to the bare JID</body></message>`);
    await expectAll(hi.c, { name: 'message', has: [{ name: 'body', text: 'to the bare JID' }] });
    b.c.send(`<message to='alice@${host}/neg' type='chat' id='m2'><body>to the full JID</body></message>`);
    const [m2] = await expectAll(neg.c, [/^<message\b/, /id=["']m(1|2)["']/]);
    assertStanza(m2!, { name: 'message', attrs: { id: 'm2' } }, { what: 'the negative-priority resource only gets what is sent to it' });
    for (const x of [hi, neg, b]) x.c.close();
  });

  test('several resources: both get pushes, contacts’ presence and each other’s presence', async () => {
    const r1 = await login(t, 'alice', 'r1');
    const r2 = await login(t, 'alice', 'r2');
    assertSomeStanza(r2.received, avail(`alice@${host}/r1`), 'r2 hears about r1 when it becomes available');
    await expectAll(r1.c, { name: 'presence', attrs: { from: `alice@${host}/r2` } });

    await iq(r1.c, `<query xmlns='jabber:iq:roster'><item jid='hal@${host}' name='Hal'/></query>`, 'set');
    await expectAll(r1.c, rosterPush(`hal@${host}`, { attrs: { name: 'Hal' } }));
    await expectAll(r2.c, rosterPush(`hal@${host}`, { attrs: { name: 'Hal' } }));

    const b = await login(t, 'bob', 'multi');
    for (const r of [r1, r2]) await expectAll(r.c, { name: 'presence', attrs: { from: `bob@${host}/multi` } });
    assertSomeStanza(b.received, avail(`alice@${host}/r1`));
    assertSomeStanza(b.received, avail(`alice@${host}/r2`));

    r1.c.send("<presence type='unavailable'/>");
    await expectAll(r2.c, unavail(`alice@${host}/r1`));
    await expectAll(b.c, unavail(`alice@${host}/r1`));
    // r1 no longer gets presence; r2 still does
    b.c.send('<presence><show>chat</show></presence>');
    await expectAll(r2.c, { name: 'presence', attrs: { from: `bob@${host}/multi` }, has: [{ name: 'show', text: 'chat' }] });
    await assertNothing(r1.c, { name: 'presence', has: [{ name: 'show', text: 'chat' }] }, 'an unavailable resource gets no presence broadcast');
    for (const x of [r1, r2, b]) x.c.close();
  });

  test('probes: a subscriber’s probe is answered, anyone else learns nothing; probes never reach the user', async () => {
    const a = await login(t, 'alice', 'probed');
    const b = await login(t, 'bob', 'prober');
    const e = await login(t, 'eve', 'nosy');
    await sync(a.c);
    b.c.send(`<presence to='alice@${host}' type='probe'/>`);
    await expectAll(b.c, { name: 'presence', attrs: { from: `alice@${host}/probed`, to: `bob@${host}/prober` } });
    e.c.send(`<presence to='alice@${host}' type='probe'/>`);
    e.c.send(`<presence to='alice@${host}/probed' type='probe'/>`);
    await assertNothing(e.c, { name: 'presence', attrs: { from: `alice@${host}/probed` } }, 'no presence for a non-subscriber');
    await assertNothing(a.c, { name: 'presence', attrs: { type: 'probe' } }, 'probes are not delivered');
    for (const x of [a, b, e]) x.c.close();
  });

  test('presence errors (§4.8): unknown type, malformed and remote addresses; presence to an offline user is dropped', async () => {
    const a = await login(t, 'carol', 'errs');
    a.c.send("<presence type='dance' id='p1'/>");
    const [e1] = await expectAll(a.c, { name: 'presence', attrs: { type: 'error', id: 'p1' } });
    assertStanza(e1!, stanzaError('bad-request', 'presence'));
    a.c.send("<presence to='x@@y' id='p2'/>");
    const [e2] = await expectAll(a.c, { name: 'presence', attrs: { type: 'error', id: 'p2' } });
    assertStanza(e2!, stanzaError('jid-malformed', 'presence'));
    a.c.send("<presence to='zed@remote.example/r' id='p3'/>");
    const [e3] = await expectAll(a.c, { name: 'presence', attrs: { type: 'error', id: 'p3' } });
    assertStanza(e3!, stanzaError('remote-server-not-found', 'presence'));
    assertStanza(e3!, { name: 'presence', attrs: { from: 'zed@remote.example/r' } });
    a.c.send(`<presence to='hal@${host}' id='p4'/>`);
    await assertNothing(a.c, /id=["']p4["']/, 'presence for a user with no available resource is ignored (§8.5.2.2)');
    a.c.close();
  });

  test('deleting bob’s account: his contacts see him go and lose the subscriptions (user_removing)', async () => {
    const a = await login(t, 'alice', 'bye');
    const b = await login(t, 'bob', 'leaving');
    await expectAll(a.c, { name: 'presence', attrs: { from: `bob@${host}/leaving` } });
    assert.equal(await state(t, 'alice', 'bob', host), 'both');
    await t.server.core.accounts.remove(Jid.parse(`bob@${host}`));
    await expectAll(a.c,
      unavail(`bob@${host}/leaving`),
      { name: 'presence', attrs: { type: 'unsubscribe', from: `bob@${host}` } },
      { name: 'presence', attrs: { type: 'unsubscribed', from: `bob@${host}` } },
      rosterPush(`bob@${host}`, { attrs: { subscription: 'none' } }));
    assert.equal(await state(t, 'alice', 'bob', host), 'none');
    a.c.close();
    b.c.close();
  });
});
