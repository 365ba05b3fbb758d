// RFC 6121 §3 and Appendix A over real sockets: every subscription state transition (outbound at the
// user's server, inbound at the contact's), the full handshake, pre-approval, cancelling, unsubscribing,
// requests kept for offline users, unknown and remote contacts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { TestServer } from '../../test/support/harness.js';
import { escapeRe, forEachHost, HOSTS } from '../../test/support/each-host.js';
import { assertStanza, stanzaError } from '../../test/support/stanza-match.js';
import { assertNothing, expectAll, item, login as loginOn, presence, push, rosterPush, startImServer, state, sync, iq, type Client } from '../roster/test-support.js';

let t: TestServer;
const users = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'nobody2'];
before(async () => {
  t = await startImServer();
  for (const host of HOSTS) for (const u of users.slice(0, -1)) await t.addUser(u, `pw-${u}`, host);
});
after(() => t.stop());

forEachHost((host) => {
  const H = escapeRe(host);
  const login = (tt: TestServer, user: string, resource: string, opts: Parameters<typeof loginOn>[3] = {}) => loginOn(tt, user, resource, { ...opts, host });
  test('alice and bob subscribe to each other: requests from bare JIDs, pushes, approvals and presence', async () => {
    const a = await login(t, 'alice', 'home');
    const b = await login(t, 'bob', 'phone');

    // alice asks: her roster shows the pending request; bob receives it from alice's bare JID.
    a.c.send(`<presence to='bob@${host}/phone' type='subscribe'><status>hi, it is alice</status></presence>`);
    const [p1] = await expectAll(a.c, rosterPush(`bob@${host}`));
    // pushes come from the bare JID
    assertStanza(p1!, { ...rosterPush(`bob@${host}`, { attrs: { subscription: 'none', ask: 'subscribe' } }), attrs: { type: 'set', from: `alice@${host}` } });
    const [req] = await expectAll(b.c, { name: 'presence', attrs: { type: 'subscribe' } });
    // a full-JID request is treated as one to the bare JID
    assertStanza(req!, { name: 'presence', attrs: { from: `alice@${host}`, to: `bob@${host}` }, has: [{ name: 'status', text: 'hi, it is alice' }] });
    assert.equal(await state(t, 'bob', 'alice', host), 'none+in');
    const bobRoster = await iq(b.c, "<query xmlns='jabber:iq:roster'/>");
    assertStanza(bobRoster, { name: 'iq', children: [{ name: 'query', without: [{ name: 'item', attrs: { jid: `alice@${host}` } }] }] }, { what: 'a pending request alone is not a roster item (Appendix A.1)' });

    // bob approves: bob's roster gets alice with 'from'; alice gets 'subscribed', 'to', and bob's presence.
    b.c.send(`<presence to='alice@${host}' type='subscribed'/>`);
    await expectAll(b.c, rosterPush(`alice@${host}`, { attrs: { subscription: 'from' } }));
    const [, p3, avail] = await expectAll(a.c,
      { name: 'presence', attrs: { type: 'subscribed', from: `bob@${host}` } },
      rosterPush(`bob@${host}`, { attrs: { subscription: 'to' } }),
      { name: 'presence', attrs: { from: `bob@${host}/phone` } });
    assertStanza(p3!, rosterPush(`bob@${host}`, { attrs: { ask: null } }));
    assertStanza(avail!, { name: 'presence', attrs: { type: null } }, { what: "bob's available presence follows the approval (§3.1.5)" });

    // and back the other way.
    b.c.send(`<presence to='alice@${host}' type='subscribe'/>`);
    await expectAll(b.c, rosterPush(`alice@${host}`, { attrs: { subscription: 'from', ask: 'subscribe' } }));
    await expectAll(a.c, { name: 'presence', attrs: { type: 'subscribe', from: `bob@${host}` } });
    a.c.send(`<presence to='bob@${host}' type='subscribed'/>`);
    await expectAll(a.c, rosterPush(`bob@${host}`, { attrs: { subscription: 'both' } }));
    await expectAll(b.c, rosterPush(`alice@${host}`, { attrs: { subscription: 'both' } }), { name: 'presence', attrs: { from: `alice@${host}/home` } });
    assert.equal(await state(t, 'alice', 'bob', host), 'both');
    assert.equal(await state(t, 'bob', 'alice', host), 'both');
    const roster = await iq(a.c, "<query xmlns='jabber:iq:roster'/>");
    assertStanza(roster, { name: 'iq', children: [{ name: 'query', has: [{ name: 'item', attrs: { jid: `bob@${host}`, subscription: 'both', ask: null }, children: [] }] }] });
    a.c.close();
    b.c.close();
  });

  // ---- Appendix A: every state x every subscription stanza ------------------------------------------

  type State = 'none' | 'none+out' | 'none+in' | 'none+out+in' | 'to' | 'to+in' | 'from' | 'from+out' | 'both';
  type Kind = 'subscribe' | 'subscribed' | 'unsubscribe' | 'unsubscribed';
  const STATES: State[] = ['none', 'none+out', 'none+in', 'none+out+in', 'to', 'to+in', 'from', 'from+out', 'both'];

  /** How each state is reached: (a = the user, b = the contact) sends a type. */
  const RECIPES: Record<State, Array<['a' | 'b', Kind]>> = {
    none: [],
    'none+out': [['a', 'subscribe']],
    'none+in': [['b', 'subscribe']],
    'none+out+in': [['a', 'subscribe'], ['b', 'subscribe']],
    to: [['a', 'subscribe'], ['b', 'subscribed']],
    'to+in': [['a', 'subscribe'], ['b', 'subscribed'], ['b', 'subscribe']],
    from: [['b', 'subscribe'], ['a', 'subscribed']],
    'from+out': [['b', 'subscribe'], ['a', 'subscribed'], ['a', 'subscribe']],
    both: [['a', 'subscribe'], ['b', 'subscribed'], ['b', 'subscribe'], ['a', 'subscribed']],
  };

  /** Appendix A.2: the user's state after sending each type. */
  const OUTBOUND: Record<Kind, Record<State, State>> = {
    subscribe: { none: 'none+out', 'none+out': 'none+out', 'none+in': 'none+out+in', 'none+out+in': 'none+out+in', to: 'to', 'to+in': 'to+in', from: 'from+out', 'from+out': 'from+out', both: 'both' },
    unsubscribe: { none: 'none', 'none+out': 'none', 'none+in': 'none+in', 'none+out+in': 'none+in', to: 'none', 'to+in': 'none+in', from: 'from', 'from+out': 'from', both: 'from' },
    subscribed: { none: 'none', 'none+out': 'none+out', 'none+in': 'from', 'none+out+in': 'from+out', to: 'to', 'to+in': 'both', from: 'from', 'from+out': 'from+out', both: 'both' },
    unsubscribed: { none: 'none', 'none+out': 'none+out', 'none+in': 'none', 'none+out+in': 'none+out', to: 'to', 'to+in': 'to', from: 'none', 'from+out': 'none+out', both: 'to' },
  };

  /** Appendix A.3 "deliver?" at the contact's server, by the contact's state. */
  const DELIVERED: Record<Kind, State[]> = {
    subscribe: ['none', 'none+out', 'to'],
    subscribed: ['none+out', 'none+out+in', 'from+out'],
    unsubscribe: ['none+in', 'none+out+in', 'to+in', 'from', 'from+out', 'both'],
    unsubscribed: ['none+out', 'none+out+in', 'to', 'to+in', 'from+out', 'both'],
  };

  /** The same relation seen from the contact: to <-> from, out <-> in. */
  function mirror(s: State): State {
    const [sub, ...flags] = s.split('+');
    const m = sub === 'to' ? 'from' : sub === 'from' ? 'to' : sub;
    const f = flags.map((x) => (x === 'out' ? 'in' : 'out')).sort((x, y) => (x === 'out' ? -1 : y === 'out' ? 1 : 0));
    return [m, ...f].join('+') as State;
  }

  test('Appendix A: each subscription stanza in each state, at the user’s server (A.2) and the contact’s (A.3)', async () => {
    const a = await login(t, 'carol', 'desk');
    let n = 0;
    for (const s of STATES) {
      for (const kind of ['subscribe', 'subscribed', 'unsubscribe', 'unsubscribed'] as Kind[]) {
        const contact = `c${++n}`;
        await t.addUser(contact, `pw-${contact}`, host);
        const b = await login(t, contact, 'r');
        for (const [who, k] of RECIPES[s]) {
          const [from, to] = who === 'a' ? [a, `${contact}@${host}`] : [b, `carol@${host}`];
          from.c.send(`<presence to='${to}' type='${k}'/>`);
          await sync(from.c);
        }
        const label = `${kind} in ${s}`;
        assert.equal(await state(t, 'carol', contact, host), s, `${label}: carol's starting state`);
        assert.equal(await state(t, contact, 'carol', host), mirror(s), `${label}: the contact's starting state`);
        await sync(b.c); // forget what the contact received so far

        a.c.send(`<presence to='${contact}@${host}' type='${kind}'/>`);
        await sync(a.c);
        const expected = OUTBOUND[kind][s];
        assert.equal(await state(t, 'carol', contact, host), expected, `${label}: carol's new state`);
        assert.equal(await state(t, contact, 'carol', host), mirror(expected), `${label}: the contact's new state`);
        const approved = kind === 'subscribed' && ['none', 'none+out', 'to'].includes(s);
        assert.equal((await item(t, 'carol', contact, host))?.approved ?? false, approved, `${label}: pre-approval`);
        const routed = kind !== 'subscribed' || s.includes('+in');
        const delivered = routed && DELIVERED[kind].includes(mirror(s));
        const got = await sync(b.c);
        const re = new RegExp(`<presence [^>]*type=["']${kind}["'][^>]*from=["']carol@${host}["']|<presence [^>]*from=["']carol@${host}["'][^>]*type=["']${kind}["']`);
        if (delivered) assert.match(got, re, `${label}: delivered to the contact`);
        else assert.doesNotMatch(got, re, `${label}: not delivered to the contact`);
        b.c.close();
      }
    }
    a.c.close();
  });

  test('Appendix A with pre-approval: a request in None, None+PendingOut or To is approved by the server', async () => {
    const a = await login(t, 'carol', 'pre');
    const cases: Array<[State, State]> = [['none', 'from'], ['none+out', 'from+out'], ['to', 'both']];
    let n = 0;
    for (const [s, expected] of cases) {
      const contact = `p${++n}`;
      await t.addUser(contact, `pw-${contact}`, host);
      const b = await login(t, contact, 'r');
      for (const [who, k] of RECIPES[s]) {
        const [from, to] = who === 'a' ? [a, `${contact}@${host}`] : [b, `carol@${host}`];
        from.c.send(`<presence to='${to}' type='${k}'/>`);
        await sync(from.c);
      }
      a.c.send(`<presence to='${contact}@${host}' type='subscribed'/>`);
      await sync(a.c);
      assert.equal((await item(t, 'carol', contact, host))?.approved, true, `pre-approved in ${s}`);
      await sync(b.c);
      b.c.send(`<presence to='carol@${host}' type='subscribe'/>`);
      await sync(b.c);
      assert.equal(await state(t, 'carol', contact, host), expected, `subscribe in ${s} + pre-approval`);
      assert.equal(await state(t, contact, 'carol', host), mirror(expected), `the contact's state after ${s} + pre-approval`);
      assert.equal((await item(t, 'carol', contact, host))?.approved, false, 'the pre-approval is used up');
      await assertNothing(a.c, new RegExp(`type=["']subscribe["'][^>]*from=["']${contact}@`), 'carol is not asked');
      b.c.close();
    }
    // 'unsubscribed' takes a pre-approval back (§3.4 / A.2.4).
    await t.addUser('p9', 'pw-p9', host);
    a.c.send(`<presence to='p9@${host}' type='subscribed'/>`);
    await sync(a.c);
    assert.equal((await item(t, 'carol', 'p9', host))?.approved, true);
    a.c.send(`<presence to='p9@${host}' type='unsubscribed'/>`);
    await sync(a.c);
    assert.equal((await item(t, 'carol', 'p9', host))?.approved, false);
    const b = await login(t, 'p9', 'r');
    b.c.send(`<presence to='carol@${host}' type='subscribe'/>`);
    await expectAll(a.c, { name: 'presence', attrs: { type: 'subscribe', from: `p9@${host}` } });
    assert.equal(await state(t, 'carol', 'p9', host), 'none+in');
    b.c.close();
    a.c.close();
  });

  // ---- scenarios -----------------------------------------------------------------------------------

  test('pre-approval (§3.4): dave approves erin before she asks; her request is answered by the server', async () => {
    const d = await login(t, 'dave', 'pc');
    d.c.send(`<presence to='erin@${host}' type='subscribed'/>`);
    await expectAll(d.c, rosterPush(`erin@${host}`, { attrs: { subscription: 'none', approved: 'true' } }));
    const e = await login(t, 'erin', 'tab');
    await assertNothing(e.c, /type=["']subscribed["']/, 'a pre-approval is not routed');
    e.c.send(`<presence to='dave@${host}' type='subscribe'/>`);
    await expectAll(e.c,
      { name: 'presence', attrs: { type: 'subscribed', from: `dave@${host}` } },
      { name: 'presence', attrs: { from: `dave@${host}/pc` } },
      rosterPush(`dave@${host}`, { attrs: { subscription: 'to' } }));
    await expectAll(d.c, rosterPush(`erin@${host}`, { attrs: { subscription: 'from' } }));
    await assertNothing(d.c, /type=["']subscribe["']/, 'dave is not asked again');
    assert.equal((await item(t, 'dave', 'erin', host))?.approved, false);
    assert.equal(await state(t, 'erin', 'dave', host), 'to');
    d.c.close();
    e.c.close();
  });

  test('cancelling (§3.2): bob stops alice seeing him; alice gets unsubscribed, a push and his unavailable', async () => {
    const a = await login(t, 'alice', 'cancel');
    const b = await login(t, 'bob', 'cancel');
    assert.equal(await state(t, 'alice', 'bob', host), 'both');
    b.c.send(`<presence to='alice@${host}' type='unsubscribed'/>`);
    await expectAll(b.c, rosterPush(`alice@${host}`, { attrs: { subscription: 'to' } }));
    await expectAll(a.c,
      { name: 'presence', attrs: { type: 'unsubscribed', from: `bob@${host}` } },
      rosterPush(`bob@${host}`, { attrs: { subscription: 'from' } }),
      { name: 'presence', attrs: { type: 'unavailable', from: `bob@${host}/cancel` } });
    // subscribed again for the next test
    a.c.send(`<presence to='bob@${host}' type='subscribe'/>`);
    await sync(a.c);
    b.c.send(`<presence to='alice@${host}' type='subscribed'/>`);
    await sync(b.c);
    assert.equal(await state(t, 'alice', 'bob', host), 'both');
    a.c.close();
    b.c.close();
  });

  test('unsubscribing (§3.3): alice stops seeing bob; bob is told and alice gets his unavailable', async () => {
    const a = await login(t, 'alice', 'unsub');
    const b = await login(t, 'bob', 'unsub');
    a.c.send(`<presence to='bob@${host}' type='unsubscribe'/>`);
    await expectAll(a.c,
      rosterPush(`bob@${host}`, { attrs: { subscription: 'from' } }),
      { name: 'presence', attrs: { type: 'unavailable', from: `bob@${host}/unsub` } });
    await expectAll(b.c,
      { name: 'presence', attrs: { type: 'unsubscribe', from: `alice@${host}` } },
      rosterPush(`alice@${host}`, { attrs: { subscription: 'to' } }));
    assert.equal(await state(t, 'alice', 'bob', host), 'from');
    assert.equal(await state(t, 'bob', 'alice', host), 'to');
    a.c.close();
    b.c.close();
  });

  test('a request to an offline user is kept and shown at each login until answered (§3.1.3)', async () => {
    const f = await login(t, 'frank', 'x');
    f.c.send(`<presence to='grace@${host}' type='subscribe'><status>remember me</status></presence>`);
    await push(f.c, `grace@${host}`);
    const g1 = await login(t, 'grace', 'one', { presence: false });
    assertStanza(await iq(g1.c, "<query xmlns='jabber:iq:roster'/>"), { name: 'iq', children: [{ name: 'query', without: [{ name: 'item', attrs: { jid: `frank@${host}` } }] }] }, { what: 'not a roster item' });
    g1.c.send('<presence/>');
    const r1 = await presence(g1.c, /type=["']subscribe["']/);
    assertStanza(r1, { name: 'presence', attrs: { from: `frank@${host}` }, has: [{ name: 'status', text: 'remember me' }] });
    g1.c.close();
    await g1.c.waitClosed().catch(() => undefined);
    const g2 = await login(t, 'grace', 'two', { presence: false });
    g2.c.send('<presence/>');
    await presence(g2.c, /type=["']subscribe["']/, new RegExp(String.raw`from=["']frank@${H}["']`));
    g2.c.send(`<presence to='frank@${host}' type='subscribed'/>`);
    await presence(f.c, /type=["']subscribed["']/, new RegExp(String.raw`from=["']grace@${H}["']`));
    assert.equal(await state(t, 'frank', 'grace', host), 'to');
    g2.c.close();
    const g3 = await login(t, 'grace', 'three');
    await assertNothing(g3.c, /type=["']subscribe["']/, 'an answered request is not shown again');
    g3.c.close();
    f.c.close();
  });

  test('a request to a remote contact bounces (remote-server-not-found) and leaves the pending state alone', async () => {
    const h = await login(t, 'heidi', 'x');
    h.c.send("<presence to='zoe@remote.example' type='subscribe'/>");
    const [, err] = await expectAll(h.c, rosterPush('zoe@remote.example', { attrs: { ask: 'subscribe' } }), { name: 'presence', attrs: { type: 'error' } });
    assertStanza(err!, { ...stanzaError('remote-server-not-found', 'presence'), attrs: { type: 'error', from: 'zoe@remote.example' } });
    assert.equal(await state(t, 'heidi', 'zoe@remote.example', host), 'none+out');
    h.c.send("<presence to='zoe@remote.example' type='unsubscribe'/>");
    assertStanza(await push(h.c, 'zoe@remote.example'), rosterPush('zoe@remote.example', { attrs: { ask: null } }));
    assert.equal(await state(t, 'heidi', 'zoe@remote.example', host), 'none');
    h.c.close();
  });

  test('a request to a local user that does not exist is answered unsubscribed (§8.5.1)', async () => {
    const i = await login(t, 'ivan', 'x');
    i.c.send(`<presence to='nobody2@${host}' type='subscribe'/>`);
    await presence(i.c, /type=["']unsubscribed["']/, new RegExp(String.raw`from=["']nobody2@${H}["']`));
    assert.equal(await state(t, 'ivan', 'nobody2', host), 'none');
    assert.equal(await item(t, 'nobody2', 'ivan', host), undefined, 'nothing is stored for a user that does not exist');
    i.c.close();
  });

  test('a request cancelled before it is answered is not shown any more (inbound unsubscribe, A.3.2)', async () => {
    const i = await login(t, 'ivan', 'y');
    i.c.send(`<presence to='judy@${host}' type='subscribe'/>`);
    await sync(i.c);
    assert.equal(await state(t, 'judy', 'ivan', host), 'none+in');
    i.c.send(`<presence to='judy@${host}' type='unsubscribe'/>`);
    await sync(i.c);
    assert.equal(await item(t, 'judy', 'ivan', host), undefined, 'the hidden record is gone');
    const j: Client = await login(t, 'judy', 'x');
    await assertNothing(j.c, /type=["']subscribe["']/, 'no request at login');
    j.c.close();
    i.c.close();
  });
});
