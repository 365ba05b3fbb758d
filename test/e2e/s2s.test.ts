// Federation between in-process xmppd servers over loopback (RFC 6120 §13.7.2, XEP-0178 SASL EXTERNAL,
// XEP-0220 dialback, XEP-0368 direct TLS, XEP-0198 acks): chat, stream checks (RFC 6120 §4.9.3), bounces
// (§8.3.3), restarts, idle streams, policy and access rules, `xmppd s2s`.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Element } from '@xmpp/xml';
import { DROP } from '../../hooks/index.js';
import { TestCa } from './interop/test-ca.js';
import { XmppdPeer } from './interop/xmppd-peer.js';
import { DnsResponder } from './interop/dns-responder.js';
import { FakeS2sPeer } from './interop/fake-s2s-peer.js';
import { RawS2s } from './interop/raw-s2s.js';
import { freePorts, sleep, until } from './interop/net-util.js';
import { login, nextMessage, stanzaWithId } from './interop/xmpp-client.js';
import { assertStanza } from '../support/stanza-match.js';

const BIN = fileURLToPath(new URL('../../../bin/xmppd.js', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'xmppd-s2s-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const ca = new TestCa(tmp);

const bounceOf = (stanza: string) => /<error[^>]*>\s*<([a-z-]+) xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']/.exec(stanza)?.[1];

describe('certificate path: SASL EXTERNAL with certificates from a CA both trust', () => {
  const bCert = ca.issue('b', { dns: ['b.test'] });
  let a: XmppdPeer;
  let b: XmppdPeer;
  before(async () => {
    const [pa, paTls, pb] = await freePorts(3);
    a = await XmppdPeer.start({
      domain: 'a.test', s2sPort: pa!, s2sTlsPort: paTls, cert: ca.issue('a', { xmppAddr: ['a.test'], cn: 'not-the-domain' }),
      s2s: { cafile: ca.certFile, overrides: { 'b.test': `127.0.0.1:${pb}` } }, users: { alice: 'pw-alice' },
    });
    b = await XmppdPeer.start({
      domain: 'b.test', s2sPort: pb!, cert: bCert,
      // b.test reaches a.test over XEP-0368 direct TLS: EXTERNAL with the client certificate checked by a tls.Server
      s2s: { cafile: ca.certFile, overrides: { 'a.test': { host: '127.0.0.1', port: paTls, tls: 'direct' } } }, users: { bob: 'pw-bob' },
    });
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
  });

  test('alice sends five messages before any stream exists: queued, then delivered in order; bob answers', async () => {
    const alice = await login(a.c2sPort, 'a.test', 'alice', 'pw-alice', { resource: 'desk' });
    const bob = await login(b.c2sPort, 'b.test', 'bob', 'pw-bob', { resource: 'phone' });
    for (let i = 1; i <= 5; i++) alice.c.send(`<message to='bob@b.test' type='chat' id='q${i}'><body>hello ${i}</body></message>`);
    for (let i = 1; i <= 5; i++) {
      const m = await nextMessage(bob.c);
      // in the client namespace on bob's stream, not in the s2s one it travelled in
      assertStanza(m, { name: 'message', ns: 'jabber:client', attrs: { from: 'alice@a.test/desk', to: 'bob@b.test', id: `q${i}` }, has: [{ name: 'body', text: `hello ${i}` }] });
    }
    bob.c.send("<message to='alice@a.test/desk' type='chat' id='back'><body>hi alice</body></message>");
    assertStanza(await nextMessage(alice.c), { name: 'message', ns: 'jabber:client', attrs: { from: 'bob@b.test/phone', id: 'back' }, has: [{ name: 'body', text: 'hi alice' }] });
    alice.c.close();
    bob.c.close();
  });

  test('`s2s.list` shows both directions authenticated with EXTERNAL over TLS 1.3 (b → a over direct TLS)', async () => {
    assert.match((await b.s2sList()).find((r) => r.direction === 'out')?.ip ?? '', /:\d+ \(direct TLS\)$/);
    for (const [p, remote] of [[a, 'b.test'], [b, 'a.test']] as const) {
      const rows = await p.s2sList();
      const out = rows.find((r) => r.direction === 'out' && r.remote === remote);
      const inn = rows.find((r) => r.direction === 'in' && r.remote === remote);
      assert.ok(out && inn, JSON.stringify(rows));
      for (const r of [out, inn]) {
        assert.equal(r.auth, 'EXTERNAL');
        assert.equal(r.state, 'established');
        assert.equal(r.tls?.version, 'TLSv1.3');
        assert.ok(r.tls?.cipher);
      }
    }
    const metrics = await a.t.server.core.metrics.registry.metrics();
    assert.match(metrics, /^xmppd_s2s_connections\{direction="out"\} 1$/m);
    assert.match(metrics, /^xmppd_s2s_connections\{direction="in"\} 1$/m);
    assert.match(metrics, /^xmppd_s2s_queue 0$/m);
    assert.match(metrics, /^xmppd_s2s_auth_total\{direction="out",method="EXTERNAL",result="success"\} 1$/m);
  });

  test('`xmppd s2s` prints the streams of a running server (control socket)', async () => {
    const cfg = join(tmp, 'cli-a.yaml');
    writeFileSync(cfg, `hosts: [a.test]\ndata_dir: ${a.dir}\ncontrol_socket: ${join(a.dir, 'ctl.sock')}\n`);
    const out = await new Promise<string>((resolve, reject) => execFile(process.execPath, [BIN, 's2s', '-c', cfg], { timeout: 20_000 }, (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(stdout))));
    assert.match(out, /^DIRECTION +LOCAL +REMOTE +STATE +AUTH +TLS/m);
    assert.match(out, /^out +a\.test +b\.test +established +EXTERNAL +TLSv1\.3 /m);
    assert.match(out, /^in +a\.test +b\.test +established +EXTERNAL +TLSv1\.3 /m);
  });

  test('s2s_receive_packet sees every stanza from the peer and may DROP it', async () => {
    const seen: Array<{ remote: string; local: string; auth: string }> = [];
    const off = b.t.server.core.hooks.on('s2s_receive_packet', (el: Element, ctx) => {
      seen.push({ remote: ctx.remote, local: ctx.local, auth: ctx.auth });
      return el.getChildText('body') === 'drop me' ? DROP : undefined;
    });
    try {
      const alice = await login(a.c2sPort, 'a.test', 'alice', 'pw-alice', { resource: 'hook' });
      const bob = await login(b.c2sPort, 'b.test', 'bob', 'pw-bob', { resource: 'hook' });
      alice.c.send("<message to='bob@b.test/hook' type='chat'><body>drop me</body></message>");
      alice.c.send("<message to='bob@b.test/hook' type='chat'><body>keep me</body></message>");
      assert.match(await nextMessage(bob.c), /keep me/);
      assert.ok(seen.length >= 2);
      assert.deepEqual(seen[0], { remote: 'a.test', local: 'b.test', auth: 'EXTERNAL' });
      alice.c.close();
      bob.c.close();
    } finally {
      off();
    }
  });

  describe('a peer that authenticated b.test with EXTERNAL, then misbehaves', () => {
    const authed = () => RawS2s.authenticated(a.t.server.port('s2s'), 'b.test', 'a.test', bCert);

    test("a stanza from a domain not authenticated on the stream: invalid-from", async () => {
      const s = await authed();
      s.send("<message from='mallory@evil.test' to='alice@a.test'><body>x</body></message>");
      assert.match(await s.waitClosed(), /<invalid-from xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']/);
    });

    test("a stanza without 'from': improper-addressing", async () => {
      const s = await authed();
      s.send("<message to='alice@a.test'><body>x</body></message>");
      assert.match(await s.waitClosed(), /<improper-addressing /);
    });

    test("a stanza to a domain a.test does not serve: host-unknown", async () => {
      const s = await authed();
      s.send("<message from='bob@b.test' to='carol@c.test'><body>x</body></message>");
      assert.match(await s.waitClosed(), /<host-unknown /);
    });

    test('a stanza before authentication: not-authorized; a header naming another domain: no EXTERNAL', async () => {
      const s = await RawS2s.connect(a.t.server.port('s2s'));
      s.openStream('evil.test', 'a.test');
      assert.match(await s.features(), /<starttls[^>]*><required\/><\/starttls>/);
      await s.starttls('a.test', bCert);
      s.openStream('evil.test', 'a.test');
      const f = await s.features();
      assert.doesNotMatch(f, /EXTERNAL/, 'the certificate names b.test, not evil.test');
      assert.match(f, /<dialback xmlns=["']urn:xmpp:features:dialback["']/);
      s.send("<message from='x@evil.test' to='alice@a.test'><body>x</body></message>");
      assert.match(await s.waitClosed(), /<not-authorized /);
    });
  });

  test('peer restarted mid-conversation: delivered before, bounced while down, delivered after', async () => {
    const alice = await login(a.c2sPort, 'a.test', 'alice', 'pw-alice', { resource: 'restart' });
    let bob = await login(b.c2sPort, 'b.test', 'bob', 'pw-bob', { resource: 'restart' });
    alice.c.send("<message to='bob@b.test/restart' type='chat' id='r1'><body>before</body></message>");
    assert.match(await nextMessage(bob.c), /before/);
    await b.stopOnly();
    alice.c.send("<message to='bob@b.test/restart' type='chat' id='r2'><body>while down</body></message>");
    const e = await stanzaWithId(alice.c, 'r2');
    assert.match(e, /type=["']error["']/);
    assert.equal(bounceOf(e), 'remote-server-not-found');
    await b.startAgain();
    await b.t.addUser('bob', 'pw-bob').catch(() => undefined); // the account survives the restart
    bob = await login(b.c2sPort, 'b.test', 'bob', 'pw-bob', { resource: 'restart' });
    alice.c.send("<message to='bob@b.test/restart' type='chat' id='r3'><body>after</body></message>");
    assert.match(await nextMessage(bob.c), /after/);
    alice.c.close();
    bob.c.close();
  });
});

describe('dialback path: self-signed certificates, SRV to direct TLS, idle streams', () => {
  let c: XmppdPeer;
  let d: XmppdPeer;
  const dns = new DnsResponder();
  before(async () => {
    const [pc, pd, pdTls] = await freePorts(3);
    const dnsPort = await dns.start();
    // c.test finds d.test through SRV: _xmpps-server points at d's direct TLS port (XEP-0368).
    dns.xmppServer('d.test', { host: 'xmpp.d.test', tlsPort: pdTls });
    c = await XmppdPeer.start({
      domain: 'c.test', s2sPort: pc!, cert: TestCa.selfSigned(tmp, 'c', { dns: ['c.test'] }),
      s2s: { dns_servers: [`127.0.0.1:${dnsPort}`], idle_timeout: 2 }, users: { carol: 'pw-carol' },
    });
    d = await XmppdPeer.start({
      domain: 'd.test', s2sPort: pd!, s2sTlsPort: pdTls, cert: TestCa.selfSigned(tmp, 'd', { dns: ['d.test'] }),
      s2s: { overrides: { 'c.test': `127.0.0.1:${pc}` }, idle_timeout: 2 }, users: { dave: 'pw-dave' },
    });
  });
  after(async () => {
    await c?.stop();
    await d?.stop();
    await dns.stop();
  });

  test('carol and dave chat both ways; every stream is authenticated with dialback', async () => {
    const carol = await login(c.c2sPort, 'c.test', 'carol', 'pw-carol', { resource: 'r' });
    const dave = await login(d.c2sPort, 'd.test', 'dave', 'pw-dave', { resource: 'r' });
    carol.c.send("<message to='dave@d.test' type='chat' id='c1'><body>hi dave</body></message>");
    assertStanza(await nextMessage(dave.c), { name: 'message', ns: 'jabber:client', attrs: { from: 'carol@c.test/r', id: 'c1' }, has: [{ name: 'body', text: 'hi dave' }] });
    dave.c.send("<message to='carol@c.test/r' type='chat' id='d1'><body>hi carol</body></message>");
    assertStanza(await nextMessage(carol.c), { name: 'message', attrs: { from: 'dave@d.test/r', id: 'd1' }, has: [{ name: 'body', text: 'hi carol' }] });
    const cRows = await c.s2sList();
    const out = cRows.find((r) => r.direction === 'out' && r.remote === 'd.test');
    assert.equal(out?.auth, 'dialback');
    assert.match(out!.ip, /\(direct TLS\)$/, 'SRV _xmpps-server led to XEP-0368 direct TLS');
    assert.ok(dns.queries.includes('SRV _xmpps-server._tcp.d.test') && dns.queries.includes('A xmpp.d.test'), dns.queries.join(', '));
    for (const r of [...cRows, ...(await d.s2sList())]) {
      assert.equal(r.auth, 'dialback', JSON.stringify(r));
      assert.match(r.tls?.version ?? '', /^TLSv1\.[23]$/);
    }
    carol.c.close();
    dave.c.close();
  });

  test('idle streams close after s2s.idle_timeout and reopen on demand', async () => {
    await until(async () => (await c.s2sList()).length === 0 && (await d.s2sList()).length === 0, 'idle streams to close', 8000, 100);
    // Each closed stream is one info line: how it was authenticated, why it ended, how long, how much.
    const closed = c.logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.msg === 's2s stream closed');
    assert.ok(closed.length >= 1, c.logLines.slice(-20).join('\n'));
    for (const r of closed) {
      assert.equal(r.level, 'info');
      assert.equal(r.auth, 'dialback');
      assert.ok(typeof r.reason === 'string' && typeof r.duration_s === 'number' && (r.bytes_in as number) > 100 && (r.bytes_out as number) > 100, JSON.stringify(r));
    }
    const carol = await login(c.c2sPort, 'c.test', 'carol', 'pw-carol', { resource: 'idle' });
    const dave = await login(d.c2sPort, 'd.test', 'dave', 'pw-dave', { resource: 'idle' });
    carol.c.send("<message to='dave@d.test/idle' type='chat'><body>again</body></message>");
    assert.match(await nextMessage(dave.c), /again/);
    carol.c.close();
    dave.c.close();
  });
});

describe('failures, policy and access rules', () => {
  let e: XmppdPeer;
  let f: XmppdPeer;
  let silent: Server;
  const silentSockets = new Set<Socket>();
  let fake: FakeS2sPeer;
  let fakeGone: FakeS2sPeer;
  before(async () => {
    const [pe, pf, pDown, pGone] = await freePorts(4);
    silent = createServer((s) => {
      silentSockets.add(s);
      s.on('error', () => {});
    }).listen(0, '127.0.0.1');
    await new Promise((r) => silent.once('listening', r));
    const fakeCert = TestCa.selfSigned(tmp, 'fake', { dns: ['fake.test'] });
    fake = new FakeS2sPeer('fake.test', fakeCert, [{ ack: false, closeAfter: 3 }, { ack: true }]);
    fakeGone = new FakeS2sPeer('gone.test', fakeCert, [{ ack: false, closeAfter: 2 }]);
    await fake.start();
    await fakeGone.start(pGone);
    e = await XmppdPeer.start({
      domain: 'e.test', s2sPort: pe!, cert: TestCa.selfSigned(tmp, 'e', { dns: ['e.test'] }),
      s2s: {
        connect_timeout: 1,
        policy: 'require_valid_cert',
        domain_policy: { 'fake.test': 'allow_dialback', 'gone.test': 'allow_dialback' },
        overrides: {
          'down.test': `127.0.0.1:${pDown}`,
          'slow.test': `127.0.0.1:${(silent.address() as { port: number }).port}`,
          'f.test': `127.0.0.1:${pf}`,
          'fake.test': `127.0.0.1:${fake.port}`,
          'gone.test': `127.0.0.1:${pGone}`,
        },
      },
      config: {
        acl: { admin: { user: ['admin@e.test'] }, blocked: { server: ['denied.test'] } },
        access_rules: { s2s: [{ deny: 'blocked' }, { allow: 'all' }] },
      },
      users: { erin: 'pw-erin' },
    });
    f = await XmppdPeer.start({
      domain: 'f.test', s2sPort: pf!, cert: TestCa.selfSigned(tmp, 'f', { dns: ['f.test'] }),
      s2s: { overrides: { 'e.test': `127.0.0.1:${pe}` } }, users: { frank: 'pw-frank' },
    });
  });
  after(async () => {
    await e?.stop();
    await f?.stop();
    await fake?.stop();
    await fakeGone?.stop();
    for (const s of silentSockets) s.destroy();
    silent?.close();
  });

  test('nothing listens: the message bounces with remote-server-not-found; errors and results never bounce', async () => {
    const erin = await login(e.c2sPort, 'e.test', 'erin', 'pw-erin', { resource: 'r' });
    erin.c.send("<message to='x@down.test' type='error' id='no1'><body>err</body></message>");
    erin.c.send("<iq to='down.test' type='result' id='no2'/>");
    erin.c.send("<message to='x@down.test' type='chat' id='down1'><body>anyone?</body></message>");
    const bounce = await stanzaWithId(erin.c, 'down1');
    assert.equal(bounceOf(bounce), 'remote-server-not-found');
    assertStanza(bounce, { name: 'message', attrs: { type: 'error', id: 'down1', from: 'x@down.test', to: 'erin@e.test/r' } });
    assert.doesNotMatch(erin.c.buffer, /id=["']no[12]["']/);
    await sleep(200);
    assert.doesNotMatch(erin.c.buffer, /id=["']no[12]["']/, 'errors and results are not bounced (RFC 6120 §8.3.1)');
    erin.c.close();
  });

  test('a peer that accepts TCP but never answers: remote-server-timeout after s2s.connect_timeout', async () => {
    const erin = await login(e.c2sPort, 'e.test', 'erin', 'pw-erin', { resource: 'slow' });
    const t0 = Date.now();
    erin.c.send("<iq to='slow.test' type='get' id='slow1'><ping xmlns='urn:xmpp:ping'/></iq>");
    const bounce = await stanzaWithId(erin.c, 'slow1', 5000);
    assert.equal(bounceOf(bounce), 'remote-server-timeout');
    assert.ok(Date.now() - t0 >= 900, 'waited for the timeout');
    erin.c.close();
  });

  test('the s2s access rule: outbound to a denied domain bounces at once; inbound from it gets policy-violation', async () => {
    const erin = await login(e.c2sPort, 'e.test', 'erin', 'pw-erin', { resource: 'acl' });
    erin.c.send("<message to='x@denied.test' id='den1'><body>x</body></message>");
    assert.equal(bounceOf(await stanzaWithId(erin.c, 'den1')), 'remote-server-not-found');
    assert.ok(!(await e.s2sList()).some((r) => r.remote === 'denied.test'));
    const s = await RawS2s.connect(e.t.server.port('s2s'));
    s.openStream('denied.test', 'e.test');
    assert.match(await s.waitClosed(), /<policy-violation xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']/);
    erin.c.close();
  });

  test('policy require_valid_cert: no outbound to a self-signed peer, and its dialback is refused', async () => {
    const erin = await login(e.c2sPort, 'e.test', 'erin', 'pw-erin', { resource: 'pol' });
    erin.c.send("<message to='frank@f.test' id='pol1'><body>x</body></message>");
    assert.equal(bounceOf(await stanzaWithId(erin.c, 'pol1')), 'remote-server-not-found');
    const frank = await login(f.c2sPort, 'f.test', 'frank', 'pw-frank', { resource: 'pol' });
    frank.c.send("<message to='erin@e.test' id='pol2'><body>x</body></message>");
    assert.equal(bounceOf(await stanzaWithId(frank.c, 'pol2')), 'remote-server-not-found');
    erin.c.close();
    frank.c.close();
  });

  test('XEP-0198: stanzas a peer never acknowledged are sent again on a new stream, not lost', async () => {
    const erin = await login(e.c2sPort, 'e.test', 'erin', 'pw-erin', { resource: 'sm' });
    for (let i = 1; i <= 3; i++) erin.c.send(`<message to='x@fake.test' type='chat' id='sm${i}'><body>m${i}</body></message>`);
    await until(() => fake.received.length >= 2 && fake.received.at(-1)!.length >= 3, 'the retry on a second connection')
      .catch((err) => assert.fail(`${err.message}: ${fake.events.join('; ')}`));
    const log = fake.events.join('; ');
    assert.equal(fake.received[0]!.length, 3, `the first connection took three stanzas and died without acking (${log})`);
    assert.deepEqual(fake.received.at(-1)!.map((s) => /<body>(m\d)<\/body>/.exec(s)?.[1]), ['m1', 'm2', 'm3'], log);
    await sleep(200);
    assert.doesNotMatch(erin.c.buffer, /type=["']error["']/);
    erin.c.close();
  });

  test('XEP-0198: when the retry finds the peer gone, unacknowledged stanzas bounce', async () => {
    const erin = await login(e.c2sPort, 'e.test', 'erin', 'pw-erin', { resource: 'gone' });
    erin.c.send("<message to='x@gone.test' type='chat' id='g1'><body>g1</body></message>");
    erin.c.send("<message to='x@gone.test' type='chat' id='g2'><body>g2</body></message>");
    await until(() => fakeGone.received[0]?.length === 2, 'two stanzas at the peer');
    await fakeGone.stop();
    for (const id of ['g1', 'g2']) {
      const b = await stanzaWithId(erin.c, id);
      assert.ok(['remote-server-not-found', 'remote-server-timeout'].includes(bounceOf(b) ?? ''), b);
    }
    erin.c.close();
  });
});
