// Bad input to the MUC service over real sockets, on every host, while other occupants chat: malformed room
// JIDs and nicks (RFC 7622, XEP-0045 §7.2.1 jid-malformed), muc#owner forms with a wrong FORM_TYPE, field
// types or value counts (XEP-0004 §3.3, bad-request), bad or oversized values (not-acceptable).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, HOSTS, type TestServer } from '../../test/support/harness.js';
import { forEachHost } from '../../test/support/each-host.js';
import { RawClient } from '../../test/support/raw-client.js';
import { assertStanza, iqResult, parseStanza, stanzaError } from '../../test/support/stanza-match.js';
import { MUC_MODULES, NS_MUC_OWNER, X_MUC, codes, createInstant, readUntil, join, joinError, next, presenceFrom, rc } from './test-support.js';

let t: TestServer;

before(async () => {
  t = await startTestServer({ modules: MUC_MODULES });
  for (const host of HOSTS) for (const u of ['alice', 'bob', 'carol', 'dave']) await t.addUser(u, `pw-${u}`, host);
});
after(() => t.stop());

const RC = 'http://jabber.org/protocol/muc#roomconfig';
/** A muc#owner submission with raw <field/> XML (FORM_TYPE first when given). */
const submit = (room: string, id: string, fields: string, formType: string | null = RC) =>
  `<iq type='set' id='${id}' to='${room}'><query xmlns='${NS_MUC_OWNER}'><x xmlns='jabber:x:data' type='submit'>${formType === null ? '' : `<field var='FORM_TYPE' type='hidden'><value>${formType}</value></field>`}${fields}</x></query></iq>`;

forEachHost((host) => {
  const svc = `conference.${host}`;
  const login = (user: string, resource = 'r') => RawClient.login(t.c2sPort, user, `pw-${user}`, resource, { host });

  test('malformed room JIDs, bad nicks and bad owner forms get their errors while bob and carol chat on, in their room and in alice\'s', async () => {
    const a = await login('alice');
    const b = await login('bob');
    const c = await login('carol');
    const d = await login('dave');
    const room = `target@${svc}`;
    const other = `elsewhere@${svc}`;
    await createInstant(a.c, room, 'Alice');
    await join(d.c, `${room}/Dave`);
    await createInstant(b.c, other, 'Bob');
    await join(c.c, `${other}/Carol`);
    await next(b.c, presenceFrom(`${other}/Carol`));
    let n = 0;
    /** bob and carol still exchange messages in their room; dave still hears alice in hers. */
    const stillChatting = async () => {
      const id = `chat${++n}`;
      b.c.send(`<message type='groupchat' to='${other}' id='${id}b'><body>from bob</body></message>`);
      c.c.send(`<message type='groupchat' to='${other}' id='${id}c'><body>from carol</body></message>`);
      a.c.send(`<message type='groupchat' to='${room}' id='${id}a'><body>from alice</body></message>`);
      await next(c.c, new RegExp(`<message[^>]*id=["']${id}b["'][\\s\\S]*?</message>`));
      await next(b.c, new RegExp(`<message[^>]*id=["']${id}c["'][\\s\\S]*?</message>`));
      // what dave received up to alice's message
      return readUntil(d.c, new RegExp(`<message[^>]*id=["']${id}a["'][\\s\\S]*?</message>`));
    };

    // Malformed room JIDs (RFC 7622 §3): two @, a localpart over 1023 bytes, an empty resource.
    for (const to of [`bad@@${svc}/Nick`, `${'x'.repeat(1024)}@${svc}/Nick`, `${room}/`]) {
      assertStanza(await joinError(a.c, to), stanzaError('jid-malformed', 'presence'));
    }
    // §7.2.1 and nick rules: no nick, a nick of spaces only, a nick over max_nick_length (128 bytes).
    for (const to of [room, `${room}/   `, `${room}/${'n'.repeat(129)}`]) {
      assertStanza(await joinError(a.c, to), stanzaError('jid-malformed', 'presence'));
    }
    await stillChatting();

    // muc#owner forms: each refused whole.
    const ask = (id: string, fields: string, formType?: string | null) => a.c.iq(id, submit(room, id, fields, formType));
    assertStanza(await ask('f1', `<field var='${rc('roomname')}'><value>Renamed</value></field>`, 'urn:example:other-form'), stanzaError('bad-request'));
    assertStanza(await ask('f2', `<field var='${rc('persistentroom')}' type='text-single'><value>1</value></field>`), stanzaError('bad-request'));
    assertStanza(await ask('f3', `<field var='${rc('roomname')}'><value>One</value><value>Two</value></field>`), stanzaError('bad-request'));
    assertStanza(await ask('f4', `<field var='${rc('moderatedroom')}'><value>maybe</value></field>`), stanzaError('not-acceptable'));
    assertStanza(await ask('f5', `<field var='${rc('maxusers')}'><value>-3</value></field>`), stanzaError('not-acceptable'));
    assertStanza(await ask('f6', `<field var='${rc('roomname')}'><value>Renamed</value></field><field var='${rc('roomdesc')}'><value>${'d'.repeat(1025)}</value></field>`), stanzaError('not-acceptable'));
    assertStanza(await a.c.iq('f7', `<iq type='set' id='f7' to='${room}'><query xmlns='${NS_MUC_OWNER}'><x xmlns='jabber:x:data' type='result'/></query></iq>`), stanzaError('bad-request'));
    // no change was made: the room has no name (disco shows its localpart), and nobody was told of a change (104)
    const info = parseStanza(await a.c.iq('i1', `<iq type='get' id='i1' to='${room}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`));
    assert.equal(info.getChild('query')!.getChild('identity')!.attrs.name, 'target');
    assert.ok(!(await stillChatting()).some((e) => codes(e).includes(104)), 'no configuration change was announced');
    // a form that is right is taken
    assertStanza(await ask('f8', `<field var='${rc('roomname')}' type='text-single'><value>Renamed</value></field><field var='${rc('getmemberlist')}'><value>moderator</value><value>participant</value></field>`), iqResult());
    await next(d.c, /<message[^>]*>(?:(?!<\/message>)[\s\S])*?<status code=["']104["'][\s\S]*?<\/message>/);
    await stillChatting();
    for (const x of [a, b, c, d]) x.c.close();
  });

  test('a presence to a room that does not exist, with a bad nick, creates no room', async () => {
    const a = await login('alice', 'nocreate');
    assertStanza(await joinError(a.c, `ghost@${svc}/${'n'.repeat(129)}`, X_MUC), stanzaError('jid-malformed', 'presence'));
    assertStanza(await a.c.iq('g1', `<iq type='get' id='g1' to='ghost@${svc}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`), stanzaError('item-not-found'));
    a.c.close();
  });
});
