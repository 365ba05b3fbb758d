// RFC 7395 framing of what the server writes: <open/>/<close/> for the stream header and closing tag, and
// every element carrying the namespaces a stream header would have declared (§3.3.3).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WS_FRAMING, withNamespaces } from '../../../src/interface/http/websocket-transport.js';

test('the server\'s <open/> carries id, from, version and xml:lang in the framing namespace, escaped', () => {
  assert.equal(
    WS_FRAMING.open({ contentNs: 'jabber:client', id: 'abc', from: "a'b.example" }),
    "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' id='abc' from='a&apos;b.example' version='1.0' xml:lang='en'/>",
  );
  assert.equal(WS_FRAMING.close, "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>");
});

test('a stanza without a namespace gets jabber:client, even when a child declares one', () => {
  assert.equal(withNamespaces("<message to='a@b'><body>x</body></message>"), "<message xmlns='jabber:client' to='a@b'><body>x</body></message>");
  assert.equal(withNamespaces('<presence/>'), "<presence xmlns='jabber:client'/>");
  assert.equal(
    withNamespaces("<iq type='result' id='1'><query xmlns='jabber:iq:roster'/></iq>"),
    "<iq xmlns='jabber:client' type='result' id='1'><query xmlns='jabber:iq:roster'/></iq>",
  );
});

test('a stanza that has its namespace and a nonza are left as they are', () => {
  assert.equal(withNamespaces("<iq xmlns='jabber:client' type='get'/>"), "<iq xmlns='jabber:client' type='get'/>");
  assert.equal(withNamespaces("<r xmlns='urn:xmpp:sm:3'/>"), "<r xmlns='urn:xmpp:sm:3'/>");
  assert.equal(withNamespaces("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"), "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
});

test('stream-level elements declare the stream prefix', () => {
  assert.equal(withNamespaces('<stream:features><bind/></stream:features>'), "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind/></stream:features>");
  assert.equal(withNamespaces('<stream:error><conflict/></stream:error>'), "<stream:error xmlns:stream='http://etherx.jabber.org/streams'><conflict/></stream:error>");
});
