// The XEP-0352 hold rule (urgency.ts) stanza by stanza: what an inactive client gets at once, what waits,
// and which presence replaces which.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseStanza } from '../../test/support/stanza-match.js';
import { judge } from './urgency.js';

const none = new Set<string>();
const urgent = (xml: string, extra = none) => judge(parseStanza(xml), extra).urgent;
const m = (inner: string, attrs = "type='chat'") => `<message xmlns='jabber:client' from='bob@localhost/b' to='alice@localhost/a' ${attrs}>${inner}</message>`;
const carbon = (kind: string, inner: string) =>
  m(`<${kind} xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>${m(inner)}</forwarded></${kind}>`);

test('messages a user must see now are urgent', () => {
  for (const x of [
    m('<body>hi</body>'),
    m('<body>news</body>', "type='headline'"),
    m('<subject>topic</subject>', "type='groupchat'"),
    m("<encrypted xmlns='eu.siacs.conversations.axolotl'><header sid='1'/></encrypted>"),
    m("<encrypted xmlns='urn:xmpp:omemo:2'><header sid='1'/></encrypted>"),
    m("<openpgp xmlns='urn:xmpp:openpgp:0'>AAAA</openpgp>"),
    m("<x xmlns='jabber:x:encrypted'>AAAA</x>"),
    m("<propose xmlns='urn:xmpp:jingle-message:0' id='c1'><description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'/></propose>"),
    m("<retract xmlns='urn:xmpp:jingle-message:0' id='c1'/>"),
    m("<x xmlns='jabber:x:conference' jid='room@muc.localhost'/>"),
    m("<x xmlns='http://jabber.org/protocol/muc#user'><invite from='carol@localhost'/></x>"),
    m("<error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>", "type='error'"),
    carbon('received', '<body>copy</body>'),
    carbon('sent', '<body>sent elsewhere</body>'),
  ]) assert.equal(urgent(x), true, x);
});

test('chat states, receipts, markers, reactions, PEP events and empty messages wait', () => {
  for (const x of [
    m("<composing xmlns='http://jabber.org/protocol/chatstates'/>"),
    m("<received xmlns='urn:xmpp:receipts' id='m1'/>"),
    m("<displayed xmlns='urn:xmpp:chat-markers:0' id='m1'/>"),
    m("<reactions xmlns='urn:xmpp:reactions:0' id='m1'><reaction>+1</reaction></reactions>"),
    m("<event xmlns='http://jabber.org/protocol/pubsub#event'><items node='urn:xmpp:avatar:metadata'/></event>", "type='headline'"),
    m("<x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='member'/></x>", "type='groupchat'"),
    m(''),
    carbon('received', "<paused xmlns='http://jabber.org/protocol/chatstates'/>"),
    carbon('sent', "<received xmlns='urn:xmpp:receipts' id='m1'/>"),
  ]) assert.equal(urgent(x), false, x);
});

test('urgent_payloads adds namespaces', () => {
  const x = m("<alert xmlns='urn:example:alert'/>");
  assert.equal(urgent(x), false);
  assert.equal(urgent(x, new Set(['urn:example:alert'])), true);
});

test('availability presence waits and is replaced per sender full JID; subscriptions and errors are urgent; IQs are never held', () => {
  const p = (attrs: string) => parseStanza(`<presence xmlns='jabber:client' from='bob@localhost/b' to='alice@localhost/a' ${attrs}/>`);
  assert.deepEqual(judge(p(''), none), { urgent: false, replaces: 'bob@localhost/b' });
  assert.deepEqual(judge(p("type='unavailable'"), none), { urgent: false, replaces: 'bob@localhost/b' });
  for (const type of ['subscribe', 'subscribed', 'unsubscribe', 'unsubscribed', 'error']) assert.equal(judge(p(`type='${type}'`), none).urgent, true, type);
  for (const type of ['get', 'set', 'result', 'error']) {
    assert.equal(urgent(`<iq xmlns='jabber:client' type='${type}' id='i1' from='bob@localhost/b'/>`), true, type);
  }
});
