// The capability hashes against the specifications' worked examples: XEP-0115 §5.2 (simple) and §5.3
// (complex, with a data form), the §5.4 ill-formed answers, XEP-0390 §4 simple and complex examples; and
// what a presence claims (claimOf).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseXml } from '../../src/sdk.js';
import { caps1String, caps1Ver, caps2Hash } from './caps-hash.js';
import { claimOf } from './claim.js';
import { parseDiscoInfo } from './disco-data.js';

const info = (xmlText: string) => parseDiscoInfo(parseXml(xmlText));

// XEP-0115 §5.2 (Exodus 0.9.1)
const SIMPLE_115 = `<query xmlns='http://jabber.org/protocol/disco#info' node='http://code.google.com/p/exodus#QgayPKawpkPSDYmwT/WM94uAlu0='>
  <identity category='client' name='Exodus 0.9.1' type='pc'/>
  <feature var='http://jabber.org/protocol/caps'/>
  <feature var='http://jabber.org/protocol/disco#info'/>
  <feature var='http://jabber.org/protocol/disco#items'/>
  <feature var='http://jabber.org/protocol/muc'/>
</query>`;

// XEP-0115 §5.3 (Psi 0.11), features and identities shuffled: the algorithm sorts them
const COMPLEX_115 = `<query xmlns='http://jabber.org/protocol/disco#info' node='http://psi-im.org#q07IKJEyjvHSyhy//CH0CxmKi8w='>
  <identity xml:lang='en' category='client' name='Psi 0.11' type='pc'/>
  <identity xml:lang='el' category='client' name='Ψ 0.11' type='pc'/>
  <feature var='http://jabber.org/protocol/muc'/>
  <feature var='http://jabber.org/protocol/caps'/>
  <feature var='http://jabber.org/protocol/disco#items'/>
  <feature var='http://jabber.org/protocol/disco#info'/>
  <x xmlns='jabber:x:data' type='result'>
    <field var='FORM_TYPE' type='hidden'><value>urn:xmpp:dataforms:softwareinfo</value></field>
    <field var='ip_version' type='text-multi'><value>ipv6</value><value>ipv4</value></field>
    <field var='os'><value>Mac</value></field>
    <field var='os_version'><value>10.5.1</value></field>
    <field var='software'><value>Psi</value></field>
    <field var='software_version'><value>0.11</value></field>
  </x>
</query>`;

test('XEP-0115 §5.2 simple example: QgayPKawpkPSDYmwT/WM94uAlu0=', () => {
  const d = info(SIMPLE_115);
  assert.equal(caps1String(d), 'client/pc//Exodus 0.9.1<http://jabber.org/protocol/caps<http://jabber.org/protocol/disco#info<http://jabber.org/protocol/disco#items<http://jabber.org/protocol/muc<');
  assert.equal(caps1Ver(d, 'sha-1'), 'QgayPKawpkPSDYmwT/WM94uAlu0=');
  // another algorithm hashes the same string
  assert.notEqual(caps1Ver(d, 'sha-256'), caps1Ver(d, 'sha-1'));
  assert.equal(caps1Ver(d, 'md5'), null, 'md5 is not verified (weak hash: session only)');
});

test('XEP-0115 §5.3 complex example with an extended form: q07IKJEyjvHSyhy//CH0CxmKi8w=', () => {
  const d = info(COMPLEX_115);
  assert.equal(caps1String(d), 'client/pc/el/Ψ 0.11<client/pc/en/Psi 0.11<http://jabber.org/protocol/caps<http://jabber.org/protocol/disco#info<'
    + 'http://jabber.org/protocol/disco#items<http://jabber.org/protocol/muc<urn:xmpp:dataforms:softwareinfo<ip_version<ipv4<ipv6<os<Mac<'
    + 'os_version<10.5.1<software<Psi<software_version<0.11<');
  assert.equal(caps1Ver(d, 'sha-1'), 'q07IKJEyjvHSyhy//CH0CxmKi8w=');
});

test('XEP-0115 §5.4: duplicate identities, features or FORM_TYPEs are ill-formed; a non-hidden FORM_TYPE form is ignored', () => {
  const base = SIMPLE_115.replace('</query>', '');
  assert.equal(caps1Ver(info(`${base}<identity category='client' name='Exodus 0.9.1' type='pc'/></query>`), 'sha-1'), null);
  assert.equal(caps1Ver(info(`${base}<feature var='http://jabber.org/protocol/muc'/></query>`), 'sha-1'), null);
  const form = (type: string, extra = '') => `<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='${type}'><value>urn:example:f</value>${extra}</field><field var='a'><value>1</value></field></x>`;
  assert.equal(caps1Ver(info(`${base}${form('hidden')}${form('hidden')}</query>`), 'sha-1'), null, 'two forms with one FORM_TYPE');
  assert.equal(caps1Ver(info(`${base}${form('hidden', '<value>urn:example:g</value>')}</query>`), 'sha-1'), null, 'FORM_TYPE with two values');
  assert.equal(caps1Ver(info(`${base}${form('text-single')}</query>`), 'sha-1'), 'QgayPKawpkPSDYmwT/WM94uAlu0=', 'not hidden: left out');
  assert.notEqual(caps1Ver(info(`${base}${form('hidden')}</query>`), 'sha-1'), 'QgayPKawpkPSDYmwT/WM94uAlu0=', 'hidden: part of the hash');
  // a feature the client adds without changing its hash no longer matches (what poisoning looks like)
  assert.notEqual(caps1Ver(info(`${base}<feature var='urn:example:evil'/></query>`), 'sha-1'), 'QgayPKawpkPSDYmwT/WM94uAlu0=');
});

// XEP-0390 §4 simple example (BombusMod), features shuffled as in the XEP
const SIMPLE_390 = `<query xmlns="http://jabber.org/protocol/disco#info">
  <identity category="client" name="BombusMod" type="mobile"/>
  ${['http://jabber.org/protocol/si', 'http://jabber.org/protocol/bytestreams', 'http://jabber.org/protocol/chatstates',
    'http://jabber.org/protocol/disco#info', 'http://jabber.org/protocol/disco#items', 'urn:xmpp:ping', 'jabber:iq:time',
    'jabber:iq:privacy', 'jabber:iq:version', 'http://jabber.org/protocol/rosterx', 'urn:xmpp:time', 'jabber:x:oob',
    'http://jabber.org/protocol/ibb', 'http://jabber.org/protocol/si/profile/file-transfer', 'urn:xmpp:receipts',
    'jabber:iq:roster', 'jabber:iq:last'].map((f) => `<feature var="${f}"/>`).join('')}
</query>`;

// XEP-0390 §4 complex example (Tkabber): two identities in two languages and a form
const COMPLEX_390 = `<query xmlns="http://jabber.org/protocol/disco#info">
  <identity category="client" name="Tkabber" type="pc" xml:lang="en"/>
  <identity category="client" name="Ткаббер" type="pc" xml:lang="ru"/>
  ${['games:board', 'http://jabber.org/protocol/activity', 'http://jabber.org/protocol/activity+notify',
    'http://jabber.org/protocol/bytestreams', 'http://jabber.org/protocol/chatstates', 'http://jabber.org/protocol/commands',
    'http://jabber.org/protocol/disco#info', 'http://jabber.org/protocol/disco#items', 'http://jabber.org/protocol/evil',
    'http://jabber.org/protocol/feature-neg', 'http://jabber.org/protocol/geoloc', 'http://jabber.org/protocol/geoloc+notify',
    'http://jabber.org/protocol/ibb', 'http://jabber.org/protocol/iqibb', 'http://jabber.org/protocol/mood',
    'http://jabber.org/protocol/mood+notify', 'http://jabber.org/protocol/rosterx', 'http://jabber.org/protocol/si',
    'http://jabber.org/protocol/si/profile/file-transfer', 'http://jabber.org/protocol/tune', 'http://www.facebook.com/xmpp/messages',
    'http://www.xmpp.org/extensions/xep-0084.html#ns-metadata+notify', 'jabber:iq:avatar', 'jabber:iq:browse', 'jabber:iq:dtcp',
    'jabber:iq:filexfer', 'jabber:iq:ibb', 'jabber:iq:inband', 'jabber:iq:jidlink', 'jabber:iq:last', 'jabber:iq:oob',
    'jabber:iq:privacy', 'jabber:iq:roster', 'jabber:iq:time', 'jabber:iq:version', 'jabber:x:data', 'jabber:x:event',
    'jabber:x:oob', 'urn:xmpp:avatar:metadata+notify', 'urn:xmpp:ping', 'urn:xmpp:receipts', 'urn:xmpp:time'].map((f) => `<feature var="${f}"/>`).join('')}
  <x xmlns="jabber:x:data" type="result">
    <field type="hidden" var="FORM_TYPE"><value>urn:xmpp:dataforms:softwareinfo</value></field>
    <field var="software"><value>Tkabber</value></field>
    <field var="software_version"><value>0.11.1-svn-20111216-mod (Tcl/Tk 8.6b2)</value></field>
    <field var="os"><value>Windows</value></field>
    <field var="os_version"><value>XP</value></field>
  </x>
</query>`;

test('XEP-0390 §4 simple example: sha-256 and sha3-256 hash sets', () => {
  const d = info(SIMPLE_390);
  assert.equal(caps2Hash(d, 'sha-256'), 'kzBZbkqJ3ADrj7v08reD1qcWUwNGHaidNUgD7nHpiw8=');
  assert.equal(caps2Hash(d, 'sha3-256'), '79mdYAfU9rEdTOcWDO7UEAt6E56SUzk/g6TnqUeuD9Q=');
  assert.equal(caps2Hash(d, 'sha-1'), null, 'XEP-0300 forbids sha-1 here');
});

test('XEP-0390 §4 complex example: identities in two languages and a form', () => {
  const d = info(COMPLEX_390);
  assert.equal(caps2Hash(d, 'sha-256'), 'u79ZroNJbdSWhdSp311mddz44oHHPsEBntQ5b1jqBSY=');
  assert.equal(caps2Hash(d, 'sha3-256'), 'XpUJzLAc93258sMECZ3FJpebkzuyNXDzRNwQog8eycg=');
});

test('XEP-0390 §4 aborts on foreign elements, tabular forms and forms without FORM_TYPE; xml:lang is inherited', () => {
  const base = SIMPLE_390.replace('</query>', '');
  assert.equal(caps2Hash(info(`${base}<foo xmlns='urn:example'/></query>`), 'sha-256'), null);
  assert.equal(caps2Hash(info(`${base}<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'><value>urn:a</value></field><reported/></x></query>`), 'sha-256'), null);
  assert.equal(caps2Hash(info(`${base}<x xmlns='jabber:x:data' type='result'><field var='a'><value>1</value></field></x></query>`), 'sha-256'), null);
  const inherited = info(SIMPLE_390.replace('<query ', `<query xml:lang='de' `));
  const explicit = info(SIMPLE_390.replace('type="mobile"', 'type="mobile" xml:lang="de"'));
  assert.equal(caps2Hash(inherited, 'sha-256'), caps2Hash(explicit, 'sha-256'));
  assert.notEqual(caps2Hash(inherited, 'sha-256'), 'kzBZbkqJ3ADrj7v08reD1qcWUwNGHaidNUgD7nHpiw8=');
});

test('claimOf: XEP-0390 hashes first (best algorithm first), XEP-0115 with a verifiable hash, legacy caps for the session only', () => {
  const both = claimOf(parseXml(`<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='http://x.example' ver='abc='/>
    <c xmlns='urn:xmpp:caps'><hash xmlns='urn:xmpp:hashes:2' algo='sha3-256'>h3=</hash><hash xmlns='urn:xmpp:hashes:2' algo='sha-256'>h2=</hash><hash xmlns='urn:xmpp:hashes:2' algo='md5'>x</hash></c></presence>`));
  assert.deepEqual(both?.verifiable.map((v) => [v.proto, v.algo, v.node]), [
    ['caps2', 'sha-256', 'urn:xmpp:caps#sha-256.h2='], ['caps2', 'sha3-256', 'urn:xmpp:caps#sha3-256.h3='], ['caps1', 'sha-1', 'http://x.example#abc='],
  ]);
  assert.equal(both?.sessionNode, undefined);
  const legacy = claimOf(parseXml(`<presence><c xmlns='http://jabber.org/protocol/caps' node='http://x.example' ver='1.0' ext='a b'/></presence>`));
  assert.deepEqual(legacy?.verifiable, []);
  assert.equal(legacy?.sessionNode, 'http://x.example#1.0');
  assert.equal(claimOf(parseXml(`<presence><c xmlns='http://jabber.org/protocol/caps' hash='md5' node='n' ver='v'/></presence>`))?.sessionNode, 'n#v');
  assert.equal(claimOf(parseXml('<presence><show>away</show></presence>')), null);
  assert.equal(claimOf(parseXml(`<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n'/></presence>`)), null, 'no ver');
});
