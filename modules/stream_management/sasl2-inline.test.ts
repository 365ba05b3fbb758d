// XEP-0198 inside SASL2 and Bind2 (XEP-0388 §2.1 inline, XEP-0386): <enable/> in <bind/> answered in
// <bound/>; after the connection is cut, <resume/> inside <authenticate/> answered in <success/> with the
// session's full JID as authorization identifier, then what the session owes. CSI's <inactive/> in <bind/>.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import { RawClient } from '../../test/support/raw-client.js';
import { assertStanza, parseStanza } from '../../test/support/stanza-match.js';
import { sasl2Plain } from '../../test/support/sasl2-client.js';
import { login, sync } from '../roster/test-support.js';
import { SM, cut, sessionOf } from './test-support.js';

const BIND2 = 'urn:xmpp:bind:0';
const CSI = 'urn:xmpp:csi:0';
let t: TestServer;
before(async () => {
  t = await startTestServer({ modules: { disco: {}, ping: {}, roster: {}, presence: {}, offline: {}, csi: {}, stream_management: { max_resume_timeout: 60 } } });
  for (const u of ['alice', 'bob']) await t.addUser(u, `pw-${u}`);
});
after(() => t.stop());

test('Bind2 enables stream management (and CSI) inline; a cut session is resumed inside SASL2', async () => {
  const probe = await RawClient.connect(t.c2sPort);
  probe.openStream();
  await probe.features();
  await probe.starttls();
  probe.openStream();
  const features = await probe.features();
  probe.close();
  assert.match(features, /<inline><bind xmlns="urn:xmpp:bind:0"><inline>[\s\S]*<feature var="urn:xmpp:sm:3"\/>/);
  assert.match(features, /<feature var="urn:xmpp:csi:0"\/>/);

  const phone = await RawClient.secured(t.c2sPort);
  const success = parseStanza(await sasl2Plain(phone, 'alice', 'pw-alice', {
    inline: `<bind xmlns='${BIND2}'><tag>Phone</tag><enable xmlns='${SM}' resume='true'/><inactive xmlns='${CSI}'/></bind>`,
  }));
  assertStanza(success, { name: 'success', has: [{ name: 'bound', ns: BIND2, has: [{ name: 'enabled', ns: SM, attrs: { resume: 'true', id: /.+/ } }] }] });
  const full = success.getChildText('authorization-identifier')!;
  const previd = success.getChild('bound', BIND2)!.getChild('enabled', SM)!.attrs.id as string;
  assert.match(full, /^alice@localhost\/Phone/);

  // Inactive from the start: a chat state waits; a message with a body brings it out first.
  const bob = await login(t, 'bob', 'pc');
  bob.c.send(`<message to='${full}' type='chat' id='cs1'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`);
  await sync(bob.c);
  assert.doesNotMatch(phone.buffer, /id=["']cs1["']/, 'the chat state is held (CSI inactive via Bind2)');
  bob.c.send(`<message to='${full}' type='chat' id='m1'><body>one</body></message>`);
  const upToM1 = (await phone.expect(/^[\s\S]*?id=["']m1["'][\s\S]*?<\/message>/))[0];
  assert.match(upToM1, /id=["']cs1["'][\s\S]*id=["']m1["']/, 'the held chat state first, then the message');

  await cut(t, phone, full);
  assert.equal(sessionOf(t, full)?.detached, true);
  bob.c.send(`<message to='${full}' type='chat' id='m2'><body>while away</body></message>`);
  await sync(bob.c);

  // The client handled nothing (h=0): cs1, m1 and m2 come again after <success/>, once each.
  const again = await RawClient.secured(t.c2sPort);
  const resumed = parseStanza(await sasl2Plain(again, 'alice', 'pw-alice', { inline: `<resume xmlns='${SM}' previd='${previd}' h='0'/>` }));
  assertStanza(resumed, { name: 'success', has: [{ name: 'authorization-identifier', text: full }, { name: 'resumed', ns: SM, attrs: { previd } }] });
  assert.equal(resumed.getChild('bound', BIND2), undefined, 'no new binding');
  const upToM2 = (await again.expect(/^[\s\S]*?id=["']m2["'][\s\S]*?<\/message>/))[0];
  const ids = [...upToM2.matchAll(/<message\b[^>]*\bid=["']([^"']+)["']/g)].map((m) => m[1]);
  assert.deepEqual(ids, ['cs1', 'm1', 'm2']);
  assert.equal(sessionOf(t, full)?.detached, false, 'the same session, carried by the new stream');
  for (const c of [again, bob.c]) c.close();
});
