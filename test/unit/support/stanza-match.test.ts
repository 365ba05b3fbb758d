// The structural stanza matcher (test/support/stanza-match.ts): what must match and what must fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertStanza, matchesStanza, stanzaMismatches, type StanzaShape } from '../../support/stanza-match.js';

const ERR = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const bounce: StanzaShape = {
  name: 'message', ns: 'jabber:client', attrs: { type: 'error', id: 'u1', from: 'nobody@localhost' },
  has: [{ name: 'error', attrs: { type: 'cancel' }, children: [{ name: 'service-unavailable', ns: ERR }] }],
};

test('attribute order and quote style do not matter', () => {
  assertStanza(`<message id='u1' from='nobody@localhost' type='error'><error type='cancel'><service-unavailable xmlns='${ERR}'/></error></message>`, bounce);
  assertStanza(`<message type="error" from="nobody@localhost" id="u1"><error type="cancel"><service-unavailable xmlns="${ERR}"/></error></message>`, bounce);
});

test('prefixed and default namespace declarations resolve to the same namespace', () => {
  assertStanza(`<cl:message xmlns:cl='jabber:client' type='error' id='u1' from='nobody@localhost'><cl:error type='cancel'><s:service-unavailable xmlns:s='${ERR}'/></cl:error></cl:message>`, bounce);
  // a prefix declared on an ancestor, and the default namespace of the stream when none is declared
  assertStanza(`<message xmlns:e='${ERR}' type='error' id='u1' from='nobody@localhost'><error type='cancel'><e:service-unavailable/></error></message>`, bounce);
  assert.ok(matchesStanza(`<x:message xmlns:x='jabber:server'/>`, { name: 'message', ns: 'jabber:server' }));
  assert.ok(matchesStanza(`<message/>`, { name: 'message', ns: 'jabber:component:accept' }, { ns: 'jabber:component:accept' }));
});

test('a wrong, missing or unexpected attribute fails', () => {
  assert.ok(!matchesStanza(`<message type='chat' id='u1' from='nobody@localhost'><error type='cancel'><service-unavailable xmlns='${ERR}'/></error></message>`, bounce));
  assert.ok(!matchesStanza(`<message type='error' from='nobody@localhost'><error type='cancel'><service-unavailable xmlns='${ERR}'/></error></message>`, bounce));
  assert.ok(matchesStanza(`<message type='error' id='u1'/>`, { name: 'message', attrs: { id: 'u1', from: null } }));
  assert.ok(!matchesStanza(`<message type='error' id='u1' from='x'/>`, { name: 'message', attrs: { from: null } }));
  assert.ok(matchesStanza(`<iq version='1.2.3'/>`, { name: 'iq', attrs: { version: /^\d+\.\d+\.\d+$/ } }));
  assert.ok(!matchesStanza(`<iq version='1.2'/>`, { name: 'iq', attrs: { version: /^\d+\.\d+\.\d+$/ } }));
});

test('a missing child, a wrong namespace or a wrong name fails', () => {
  assert.ok(!matchesStanza(`<message type='error' id='u1' from='nobody@localhost'/>`, bounce));
  assert.ok(!matchesStanza(`<message type='error' id='u1' from='nobody@localhost'><error type='cancel'><service-unavailable xmlns='urn:other'/></error></message>`, bounce));
  assert.ok(!matchesStanza(`<message xmlns='jabber:server' type='error' id='u1' from='nobody@localhost'><error type='cancel'><service-unavailable xmlns='${ERR}'/></error></message>`, bounce));
  assert.ok(!matchesStanza(`<presence type='error' id='u1' from='nobody@localhost'><error type='cancel'><service-unavailable xmlns='${ERR}'/></error></presence>`, bounce));
  assert.ok(!matchesStanza(`<message type='error' id='u1' from='nobody@localhost'><error type='cancel'><item-not-found xmlns='${ERR}'/></error></message>`, bounce));
});

test('children: in order and complete; has: a subset in any order; without: absent', () => {
  const v = `<query xmlns='jabber:iq:version'><name>xmppd</name><version>0.1.0</version></query>`;
  assert.ok(matchesStanza(v, { name: 'query', ns: 'jabber:iq:version', children: [{ name: 'name', text: 'xmppd' }, { name: 'version', text: /^\d/ }] }));
  assert.ok(!matchesStanza(v, { name: 'query', children: [{ name: 'version' }, { name: 'name' }] }), 'order matters for children');
  assert.ok(!matchesStanza(v, { name: 'query', children: [{ name: 'name' }] }), 'an extra child fails children');
  assert.ok(!matchesStanza(v, { name: 'query', children: [{ name: 'name' }, { name: 'version' }, { name: 'os' }] }), 'a missing child fails children');
  assert.ok(matchesStanza(v, { name: 'query', has: [{ name: 'version' }, { name: 'name' }] }), 'has ignores order');
  assert.ok(!matchesStanza(`<q><a/></q>`, { name: 'q', has: [{ name: 'a' }, { name: 'a' }] }), 'each has entry needs its own child');
  assert.ok(matchesStanza(v, { name: 'query', without: [{ name: 'os' }] }));
  assert.ok(!matchesStanza(v, { name: 'query', without: [{ name: 'name' }] }));
});

test('text is the element’s own text, entities decoded', () => {
  assert.ok(matchesStanza(`<body>a &amp; b €</body>`, { name: 'body', text: 'a & b €' }));
  assert.ok(!matchesStanza(`<body>a &amp; b</body>`, { name: 'body', text: 'a &amp; b' }));
  assert.ok(!matchesStanza(`<body>hello</body>`, { name: 'body', text: /^bye/ }));
});

test('a failure names every mismatch with its path and shows the stanza', () => {
  const bad = `<message type='chat' id='u1'><error type='cancel'><item-not-found xmlns='${ERR}'/></error></message>`;
  assert.deepEqual(stanzaMismatches(bad, bounce), [
    'message@type: is "chat", expected "error"',
    'message@from: missing, expected "nobody@localhost"',
    `message/error/service-unavailable[0]: name is "item-not-found", expected "service-unavailable" (no child matches <error>)`,
  ]);
  assert.throws(() => assertStanza(bad, bounce), (err: Error) => {
    assert.ok(err instanceof assert.AssertionError);
    assert.match(err.message, /message@type: is "chat", expected "error"/);
    assert.match(err.message, /actual: <message type="chat" id="u1">/);
    return true;
  });
});

test('input that is not one element is rejected', () => {
  assert.throws(() => assertStanza('just text', { name: 'message' }));
});
