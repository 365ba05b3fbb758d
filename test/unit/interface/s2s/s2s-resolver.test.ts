// Where xmppd connects for a peer domain (RFC 6120 §3.2, XEP-0368) with an injected DNS client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { S2sResolver, ResolveError, type DnsClient, type SrvRecordLike } from '../../../../src/interface/s2s/s2s-resolver.js';

function fakeDns(srv: Record<string, SrvRecordLike[] | Error>, hosts: Record<string, string[]> = {}): DnsClient & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    async resolveSrv(name) {
      asked.push(name);
      const r = srv[name];
      if (r instanceof Error) throw r;
      if (!r) throw Object.assign(new Error('queryNotFound'), { code: 'ENOTFOUND' });
      return r;
    },
    async addresses(host) {
      return hosts[host] ?? [];
    },
  };
}
const srv = (name: string, port: number, priority = 0, weight = 0): SrvRecordLike => ({ name, port, priority, weight });

test('overrides win over DNS: no query at all', async () => {
  const dns = fakeDns({});
  const r = new S2sResolver({ 'peer.example': { host: '10.0.0.7', port: 5299, tls: 'direct' } }, dns);
  assert.deepEqual(await r.targets('peer.example'), [{ host: '10.0.0.7', port: 5299, tls: 'direct' }]);
  assert.deepEqual(dns.asked, []);
  assert.deepEqual(await r.addresses('10.0.0.7'), ['10.0.0.7']);
  assert.deepEqual(await r.addresses('[::1]'), ['::1']);
});

test('SRV for _xmpps-server (direct TLS) and _xmpp-server (STARTTLS) combine by priority', async () => {
  const dns = fakeDns({
    '_xmpps-server._tcp.example.org': [srv('tls.example.org.', 5270, 5)],
    '_xmpp-server._tcp.example.org': [srv('xmpp2.example.org', 5269, 10), srv('xmpp1.example.org', 5269, 1)],
  });
  const r = new S2sResolver({}, dns, () => 0);
  assert.deepEqual(await r.targets('example.org'), [
    { host: 'xmpp1.example.org', port: 5269, tls: 'starttls' },
    { host: 'tls.example.org', port: 5270, tls: 'direct' },
    { host: 'xmpp2.example.org', port: 5269, tls: 'starttls' },
  ]);
  assert.deepEqual(dns.asked.sort(), ['_xmpp-server._tcp.example.org', '_xmpps-server._tcp.example.org']);
});

test('no SRV records (or a DNS failure): the domain itself on 5269 with STARTTLS (RFC 6120 §3.2.2)', async () => {
  const r = new S2sResolver({}, fakeDns({ '_xmpp-server._tcp.b.example': Object.assign(new Error('x'), { code: 'ESERVFAIL' }) }));
  assert.deepEqual(await r.targets('a.example'), [{ host: 'a.example', port: 5269, tls: 'starttls' }]);
  assert.deepEqual(await r.targets('b.example'), [{ host: 'b.example', port: 5269, tls: 'starttls' }]);
});

test('a "." target declines the service (RFC 2782); a declined xmpps-server leaves xmpp-server usable', async () => {
  const r = new S2sResolver({}, fakeDns({
    '_xmpp-server._tcp.none.example': [srv('.', 0)],
    '_xmpps-server._tcp.half.example': [srv('.', 0)],
    '_xmpp-server._tcp.half.example': [srv('x.half.example', 5269)],
  }));
  await assert.rejects(r.targets('none.example'), ResolveError);
  assert.deepEqual(await r.targets('half.example'), [{ host: 'x.half.example', port: 5269, tls: 'starttls' }]);
});

test('IDN domains are looked up in A-label form', async () => {
  const dns = fakeDns({});
  const r = new S2sResolver({}, dns);
  assert.deepEqual(await r.targets('bücher.example'), [{ host: 'xn--bcher-kva.example', port: 5269, tls: 'starttls' }]);
  assert.ok(dns.asked.includes('_xmpp-server._tcp.xn--bcher-kva.example'));
});
