// errorReply (RFC 6120 §8.3): to/from swapped, id kept, the payload of a message or presence bounce
// kept only while small, an IQ's request payload always kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import xml from '@xmpp/xml';
import { StanzaError } from '../../../src/core/errors.js';
import { MAX_BOUNCED_PAYLOAD, errorReply } from '../../../src/core/stanza.js';

const message = (body: string) => xml('message', { from: 'alice@localhost/a', to: 'bob@remote.example', id: 'm1', type: 'chat' }, xml('body', {}, body));

test('a bounced chat message keeps a small body, swaps the addresses and adds the error', () => {
  const reply = errorReply(message('hi'), new StanzaError('remote-server-timeout'));
  assert.equal(reply.attrs.type, 'error');
  assert.equal(reply.attrs.id, 'm1');
  assert.equal(reply.attrs.from, 'bob@remote.example');
  assert.equal(reply.attrs.to, 'alice@localhost/a');
  assert.equal(reply.getChildText('body'), 'hi');
  assert.ok(reply.getChild('error')?.getChild('remote-server-timeout'));
});

test('a bounced message with a payload over MAX_BOUNCED_PAYLOAD carries only the error', () => {
  const reply = errorReply(message('x'.repeat(MAX_BOUNCED_PAYLOAD)), new StanzaError('remote-server-timeout'));
  assert.equal(reply.getChild('body'), undefined);
  assert.ok(reply.getChild('error')?.getChild('remote-server-timeout'));
  assert.ok(reply.toString().length < 1024);
});

test('an IQ error keeps the request payload whatever its size', () => {
  const iq = xml('iq', { from: 'alice@localhost/a', to: 'localhost', id: 'q', type: 'set' }, xml('vCard', { xmlns: 'vcard-temp' }, xml('DESC', {}, 'y'.repeat(10_000))));
  const reply = errorReply(iq, new StanzaError('policy-violation'));
  assert.equal(reply.getChild('vCard')?.getChildText('DESC')?.length, 10_000);
});
