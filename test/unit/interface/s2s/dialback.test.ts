// XEP-0185 dialback keys and XEP-0220 answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { DialbackKeys, dbAnswer, dbElement } from '../../../../src/interface/s2s/dialback.js';

test('key = HEX(HMAC-SHA256(hex SHA256(secret), "receiving originating streamId")) as in XEP-0185 §2', () => {
  const secret = 's3cr3tf0rd14lb4ck';
  const hashed = createHash('sha256').update(secret).digest('hex');
  assert.equal(hashed, 'a7136eb1f46c9ef18c5e78c36ca257067c69b3d518285f0b18a96c33beae9acc');
  const want = createHmac('sha256', hashed).update('domain2.tld domain1.tld D60000229F').digest('hex');
  const keys = new DialbackKeys(secret);
  assert.equal(keys.key('domain2.tld', 'domain1.tld', 'D60000229F'), want);
  assert.equal(keys.verify('domain2.tld', 'domain1.tld', 'D60000229F', ` ${want}\n`), true, 'whitespace around the key text is ignored');
  assert.equal(keys.verify('domain2.tld', 'domain1.tld', 'D60000229G', want), false, 'bound to the stream id');
  assert.equal(keys.verify('domain1.tld', 'domain2.tld', 'D60000229F', want), false, 'bound to the direction');
  assert.equal(new DialbackKeys('another secret').verify('domain2.tld', 'domain1.tld', 'D60000229F', want), false);
  assert.equal(keys.verify('domain2.tld', 'domain1.tld', 'D60000229F', 'short'), false);
});

test('db:result / db:verify elements and typed answers (XEP-0220 §2.4 errors)', () => {
  assert.equal(dbElement('result', { from: 'a.example', to: 'b.example' }, 'k').toString(), "<db:result from=\"a.example\" to=\"b.example\">k</db:result>");
  assert.equal(dbAnswer('verify', { from: 'b', to: 'a', id: 'i' }, 'valid').toString(), '<db:verify from="b" to="a" id="i" type="valid"/>');
  const err = dbAnswer('result', { from: 'b', to: 'a' }, { error: 'item-not-found' }).toString();
  assert.match(err, /^<db:result from="b" to="a" type="error"><error type="cancel"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"\/><\/error><\/db:result>$/);
});
