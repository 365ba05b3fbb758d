// Certificates that renew themselves: tls.certificates directories in the certbot, acmetool, lego and
// Prosody layouts, renewals on disk served to the next connection (c2s STARTTLS and direct TLS, https,
// s2s_tls) while established ones keep theirs, bad pairs refused, `xmppd cert import`, and SHA-256 +
// SHA-1 fingerprints in the logs. Real TLS sockets on loopback; certificates from node-forge.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { realpathSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { buildConfig, loadConfigFile } from '../../src/core/config/load-config.js';
import { Logger } from '../../src/core/log.js';
import { Jid } from '../../src/core/jid.js';
import { tlsServerEndPoint } from '../../src/core/sasl/channel-binding.js';
import { X509Certificate } from 'node:crypto';
import { startServer, type XmppServer } from '../../src/main.js';
import { HostCertificates, type CertificateEvent } from '../../src/interface/tls/host-certificates.js';
import { importCertificates } from '../../src/interface/tls/cert-import.js';
import { RawClient } from '../support/raw-client.js';
import {
  makeCert, mismatched, writeAcmetool, writeCertbot, writeLego, writeProsodyDir, writeProsodyFlat, type TestCert,
} from '../support/test-certs.js';

const BIN = fileURLToPath(new URL('../../../bin/xmppd.js', import.meta.url));
const HOSTS = ['a.test', 'b.test'];

let root: string;
let n = 0;
const tmp = () => join(root, `d${++n}`);
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'xmppd-certs-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A logger whose JSON lines are kept for assertions. */
function capture(): { log: Logger; lines: Array<Record<string, any>> } {
  const lines: Array<Record<string, any>> = [];
  return { log: new Logger('info', {}, (l) => lines.push(JSON.parse(l)), false), lines };
}

/** The certificate a fresh TLS connection is served (no SNI when servername is undefined). */
async function served(port: number, servername?: string, alpn = 'xmpp-client'): Promise<string> {
  const sock = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: [alpn], ...(servername ? { servername } : {}) });
  await once(sock, 'secureConnect');
  const fp = sock.getPeerX509Certificate()!.fingerprint256;
  sock.destroy();
  return fp;
}

/** Resolves on the first event of that kind for the host (others, e.g. for a half-written renewal, are skipped). */
function next(certs: HostCertificates, event: 'reloaded' | 'refused', host: string, sha256?: string): Promise<CertificateEvent> {
  return new Promise((resolve) => {
    const on = (e: CertificateEvent) => {
      if (e.host !== host || (sha256 && e.sha256 !== sha256)) return;
      certs.off(event, on);
      resolve(e);
    };
    certs.on(event, on);
  });
}

describe('certificate directory layouts', () => {
  const layouts: Array<[string, (dir: string, host: string, c: TestCert) => void]> = [
    ['certbot', writeCertbot], ['acmetool', writeAcmetool], ['lego', writeLego], ['prosody', writeProsodyFlat], ['prosody', writeProsodyDir],
  ];
  for (const [layout, write] of layouts) {
    test(`${layout} (${write.name}): each host's pair is found in tls.certificates`, async () => {
      const dir = tmp();
      const certs = Object.fromEntries(HOSTS.map((h) => [h, makeCert([h])]));
      for (const h of HOSTS) write(dir, h, certs[h]!);
      const { log, lines } = capture();
      const hc = await HostCertificates.load(buildConfig({ hosts: HOSTS, data_dir: tmp(), tls: { certificates: dir } }), log);
      assert.deepEqual(hc.current().map((c) => [c.domain, c.certPem]), HOSTS.map((h) => [h, certs[h]!.certPem]));
      for (const h of HOSTS) {
        const line = lines.find((l) => l.msg === 'TLS certificate loaded' && l.host === h);
        assert.ok(line, `load line for ${h}`);
        assert.equal(line.layout, layout);
        assert.equal(line.sha256, certs[h]!.sha256);
        assert.equal(line.sha1, certs[h]!.sha1);
        assert.match(line.sha1, /^([0-9A-F]{2}:){19}[0-9A-F]{2}$/);
      }
    });
  }

  test('per host: host_config.<host>.tls.certificates, a lego wildcard for a subdomain, self-signed for the rest', async () => {
    const certbot = tmp();
    const lego = tmp();
    const a = makeCert(['a.test']);
    const wild = makeCert(['*.b.test']);
    writeCertbot(certbot, 'a.test', a);
    writeLego(lego, '*.b.test', wild);
    const data = tmp();
    const hc = await HostCertificates.load(buildConfig({
      hosts: ['a.test', 'chat.b.test', 'c.test'], data_dir: data,
      host_config: { 'a.test': { tls: { certificates: certbot } }, 'chat.b.test': { tls: { certificates: lego } } },
    }), new Logger('silent'));
    const [ca, cb, cc] = hc.current();
    assert.equal(ca!.certPem, a.certPem);
    assert.equal(cb!.certPem, wild.certPem);
    assert.equal(cc!.certPem, await readFile(join(data, 'certs', 'self-signed.crt'), 'utf8'));
  });

  test('an expired or wrong-name certificate at start is served, with a warning naming the problem', async () => {
    const dir = tmp();
    writeLego(dir, 'a.test', makeCert(['a.test'], { notBefore: new Date(Date.now() - 100 * 86_400_000), days: 90 }));
    writeLego(dir, 'b.test', makeCert(['other.test']));
    const { log, lines } = capture();
    await HostCertificates.load(buildConfig({ hosts: HOSTS, data_dir: tmp(), tls: { certificates: dir } }), log);
    const warns = lines.filter((l) => l.level === 'warn' && l.msg.startsWith('TLS certificate problem'));
    assert.deepEqual(warns.map((w) => w.host), HOSTS);
    assert.match(warns[0]!.problem, /expired on/);
    assert.match(warns[1]!.problem, /does not name b\.test/);
  });

  test('a configured directory without the host fails the start with the YAML path and what was looked for', async () => {
    const dir = tmp();
    writeCertbot(dir, 'a.test', makeCert(['a.test']));
    await assert.rejects(HostCertificates.load(buildConfig({ hosts: HOSTS, data_dir: tmp(), tls: { certificates: dir } }), new Logger('silent')),
      /tls\.certificates: no certificate for b\.test in .*live\/b\.test\/fullchain\.pem/);
  });

  test('config: certificates and cert/key together, or an unknown key, are refused', () => {
    assert.throws(() => buildConfig({ tls: { certificates: '/x', cert: '/a', key: '/b' } }), /tls: give either certificates/);
    assert.throws(() => buildConfig({ tls: { certificate: '/x' } }), /tls\.certificate: unknown option/);
    assert.throws(() => buildConfig({ hosts: ['a.test'], host_config: { 'a.test': { tls: { certificates: '' } } } }), /host_config\.a\.test\.tls\.certificates: must be a directory/);
  });

  test('the periodic re-check (no watch event) applies a renewal; a mismatched pair is refused', async () => {
    const dir = tmp();
    const first = makeCert(['a.test']);
    writeAcmetool(dir, 'a.test', first);
    const { log, lines } = capture();
    const hc = await HostCertificates.load(buildConfig({ hosts: ['a.test'], data_dir: tmp(), tls: { certificates: dir } }), log);
    const replaced: string[] = [];
    hc.follow({ replace: (_d, certPem) => void replaced.push(certPem) });
    assert.deepEqual(hc.recheck(), [], 'nothing changed');
    const bad = mismatched(makeCert(['a.test']), makeCert(['a.test']));
    writeAcmetool(dir, 'a.test', bad);
    const r1 = hc.recheck();
    assert.equal(r1[0]?.event, 'refused');
    assert.match(r1[0]!.detail.reason!, /does not match/);
    assert.deepEqual(hc.recheck(), [], 'a refused pair is reported once');
    assert.deepEqual(replaced, []);
    const error = lines.find((l) => l.msg === 'new TLS certificate refused; the loaded one stays in use');
    assert.equal(error?.level, 'error');
    assert.equal(error?.sha256, first.sha256, 'names the certificate still in use');
    const expired = makeCert(['a.test'], { notBefore: new Date(Date.now() - 100 * 86_400_000), days: 90 });
    writeAcmetool(dir, 'a.test', expired);
    assert.match(hc.recheck()[0]!.detail.reason!, /expired/);
    const other = makeCert(['other.test']);
    writeAcmetool(dir, 'a.test', other);
    assert.match(hc.recheck()[0]!.detail.reason!, /does not name a\.test/);
    const good = makeCert(['a.test']);
    writeAcmetool(dir, 'a.test', good);
    const r2 = hc.recheck();
    assert.equal(r2[0]?.event, 'reloaded');
    assert.deepEqual(replaced, [good.certPem]);
    assert.equal(hc.current()[0]!.certPem, good.certPem);
  });
});

test('tls: {cert, key} files replaced in place are re-read too', async () => {
  const dir = tmp();
  const first = makeCert(['a.test']);
  writeProsodyFlat(dir, 'a.test', first);
  const hc = await HostCertificates.load(buildConfig({
    hosts: ['a.test'], data_dir: tmp(), tls: { cert: join(dir, 'a.test.crt'), key: join(dir, 'a.test.key') },
  }), new Logger('silent'));
  assert.equal(hc.current()[0]!.certPem, first.certPem);
  const second = makeCert(['a.test']);
  writeProsodyFlat(dir, 'a.test', second);
  const r = hc.recheck();
  assert.equal(r[0]?.event, 'reloaded');
  assert.equal(r[0]?.detail.sha1, second.sha1);
  assert.equal(hc.current()[0]!.certPem, second.certPem);
});

describe('a renewed certificate is served to the next connection, without a restart', () => {
  let server: XmppServer;
  let certbot: string;
  const lines: Array<Record<string, any>> = [];
  let a1: TestCert;
  let a2: TestCert;
  let b1: TestCert;
  const port = (type: string) => server.port(type);

  before(async () => {
    certbot = tmp();
    a1 = makeCert(['a.test']);
    b1 = makeCert(['b.test']);
    writeCertbot(certbot, 'a.test', a1);
    writeCertbot(certbot, 'b.test', b1);
    const data = tmp();
    const config = buildConfig({
      hosts: HOSTS, data_dir: data, control_socket: join(data, 'ctl.sock'),
      tls: { certificates: certbot },
      listen: ['c2s', 'c2s_tls', 'https', 's2s_tls'].map((type) => ({ port: 0, ip: '127.0.0.1', type })),
      modules: {},
    });
    server = await startServer(config, { log: new Logger('info', {}, (l) => lines.push(JSON.parse(l)), false), controlSocket: false });
    await server.core.accounts.create(Jid.of('alice', 'a.test'), 'pw-alice-123');
  });
  after(async () => {
    await server?.stop();
  });

  test('at start: each host served its own certificate, fingerprints logged as SHA-256 and SHA-1', async () => {
    assert.equal(await served(port('c2s_tls'), 'a.test'), a1.sha256);
    assert.equal(await served(port('c2s_tls'), 'b.test'), b1.sha256);
    assert.equal(await served(port('c2s_tls')), a1.sha256, 'no SNI: the first host');
    for (const [h, c] of [['a.test', a1], ['b.test', b1]] as const) {
      const l = lines.find((x) => x.msg === 'TLS certificate loaded' && x.host === h);
      assert.equal(l?.sha256, c.sha256);
      assert.equal(l?.sha1, c.sha1);
      assert.equal(l?.layout, 'certbot');
      assert.equal(l?.cert_file, realpathSync(join(certbot, 'archive', h, 'fullchain1.pem')));
    }
  });

  test('certbot renews a.test (symlink swap): new connections of every kind get it, open ones keep theirs', async () => {
    const direct = await RawClient.connect(port('c2s_tls'), { tls: true, servername: 'a.test' });
    const starttls = await RawClient.connect(port('c2s'));
    starttls.openStream('a.test');
    await starttls.features();
    await starttls.starttls('a.test');
    assert.equal(starttls.tlsSocket.getPeerX509Certificate()!.fingerprint256, a1.sha256);

    a2 = makeCert(['a.test']);
    const reloaded = next(server.certificates!, 'reloaded', 'a.test', a2.sha256);
    writeCertbot(certbot, 'a.test', a2, 2);
    const ev = await reloaded;
    assert.equal(ev.sha1, a2.sha1);

    assert.equal(await served(port('c2s_tls'), 'a.test'), a2.sha256, 'c2s direct TLS');
    assert.equal(await served(port('c2s_tls')), a2.sha256, 'c2s direct TLS without SNI (the default host)');
    assert.equal(await served(port('https'), 'a.test', 'http/1.1'), a2.sha256, 'https');
    assert.equal(await served(port('https'), undefined, 'http/1.1'), a2.sha256, 'https without SNI');
    assert.equal(await served(port('s2s_tls'), 'a.test', 'xmpp-server'), a2.sha256, 's2s direct TLS');
    assert.equal(await served(port('s2s_tls'), undefined, 'xmpp-server'), a2.sha256, 's2s direct TLS without SNI');
    const fresh = await RawClient.connect(port('c2s'));
    fresh.openStream('a.test');
    await fresh.features();
    await fresh.starttls('a.test');
    assert.equal(fresh.tlsSocket.getPeerX509Certificate()!.fingerprint256, a2.sha256, 'c2s STARTTLS');
    fresh.socket.destroy();
    assert.equal(await served(port('c2s_tls'), 'b.test'), b1.sha256, 'the other host is unchanged');

    // the established streams go on, over the TLS session (and certificate) they negotiated
    // (a client TLSSocket forgets the peer certificate once it has read a TLS 1.3 session ticket, so the
    // STARTTLS one was checked right after its handshake above, and this one has read nothing yet)
    assert.equal(direct.tlsSocket.getPeerX509Certificate()!.fingerprint256, a1.sha256);
    for (const c of [direct, starttls]) {
      assert.equal(c.closed, false);
      c.openStream('a.test');
      assert.match(await c.features(), /mechanisms/);
    }
    // tls-server-end-point (RFC 5929 §4) hashes the certificate each connection was served: the old one
    // on the established stream, the new one on a fresh stream
    const fresh2 = await RawClient.connect(port('c2s_tls'), { tls: true, servername: 'a.test' });
    fresh2.openStream('a.test');
    await fresh2.features();
    // (binding data from the expected certificate: the client socket forgets the peer's once a session ticket is read)
    for (const [c, cert] of [[direct, a1], [fresh2, a2]] as const) {
      const cb = tlsServerEndPoint(new X509Certificate(cert.certPem).raw)!;
      assert.match(await c.authScram('SCRAM-SHA-256-PLUS', 'alice', 'pw-alice-123', 'tls-server-end-point', cb), /^<success/);
    }
    for (const c of [direct, starttls, fresh2]) c.socket.destroy();
    const l = lines.find((x) => x.msg === 'TLS certificate reloaded' && x.host === 'a.test');
    assert.equal(l?.sha256, a2.sha256);
    assert.equal(l?.sha1, a2.sha1);
    assert.equal(l?.previous_sha256, a1.sha256);
  });

  test('a mismatched renewal is refused with a logged error; the loaded certificate stays in use', async () => {
    const bad = mismatched(makeCert(['a.test']), makeCert(['a.test']));
    const refused = next(server.certificates!, 'refused', 'a.test');
    writeCertbot(certbot, 'a.test', bad, 3);
    const ev = await refused;
    assert.match(ev.reason!, /does not match/);
    assert.equal(await served(port('c2s_tls'), 'a.test'), a2.sha256);
    assert.equal(await served(port('c2s_tls')), a2.sha256);
    const l = lines.find((x) => x.msg === 'new TLS certificate refused; the loaded one stays in use');
    assert.equal(l?.level, 'error');
    assert.equal(l?.host, 'a.test');
    assert.equal(l?.sha256, a2.sha256);
  });
});

describe('xmppd cert import', () => {
  test('from a certbot directory: each configured host copied (key 0600), a missing one reported', async () => {
    const src = tmp();
    const a = makeCert(['a.test']);
    const b = makeCert(['b.test']);
    writeCertbot(src, 'a.test', a);
    writeCertbot(src, 'b.test', b);
    const data = tmp();
    const config = buildConfig({ hosts: [...HOSTS, 'c.test'], data_dir: data });
    const r = importCertificates(config, src);
    assert.deepEqual(r.imported.map((i) => [i.host, i.layout, i.sha256, i.sha1]), [['a.test', 'certbot', a.sha256, a.sha1], ['b.test', 'certbot', b.sha256, b.sha1]]);
    assert.deepEqual(r.not_found, [{ host: 'c.test' }]);
    for (const [h, c] of [['a.test', a], ['b.test', b]] as const) {
      assert.equal(await readFile(join(data, 'certs', `${h}.crt`), 'utf8'), c.certPem);
      assert.equal(await readFile(join(data, 'certs', `${h}.key`), 'utf8'), c.keyPem);
      assert.equal((await stat(join(data, 'certs', `${h}.key`))).mode & 0o777, 0o600);
      assert.equal((await stat(join(data, 'certs', `${h}.key`))).isSymbolicLink(), false);
    }
  });

  test('from a lego directory into tls.certificates; a wrong-name or mismatched pair is skipped with the reason', async () => {
    const src = tmp();
    const a = makeCert(['a.test']);
    writeLego(src, 'a.test', a);
    writeLego(src, 'b.test', makeCert(['wrong.test']));
    writeLego(src, 'c.test', mismatched(makeCert(['c.test']), a));
    const target = tmp();
    const r = importCertificates(buildConfig({ hosts: [...HOSTS, 'c.test'], data_dir: tmp(), tls: { certificates: target } }), src);
    assert.deepEqual(r.imported.map((i) => [i.host, i.layout, i.cert]), [['a.test', 'lego', join(target, 'a.test.crt')]]);
    assert.deepEqual(r.skipped.map((s) => s.host), ['b.test', 'c.test']);
    assert.match(r.skipped[0]!.reason, /does not name b\.test/);
    assert.match(r.skipped[1]!.reason, /does not match/);
    assert.equal((await stat(join(target, 'a.test.key'))).mode & 0o777, 0o600);
  });

  test('the CLI verb on a running server (self-signed until then): the imported certificates are served without a restart', async () => {
    const data = tmp();
    const cfg = join(root, `xmppd-${++n}.yaml`);
    await writeFile(cfg, [
      `hosts: [${HOSTS.join(', ')}]`,
      `data_dir: ${data}`,
      `control_socket: ${join(data, 'ctl.sock')}`,
      'modules: {}',
      'listen:',
      '  - { port: 0, ip: 127.0.0.1, type: c2s_tls }',
    ].join('\n'));
    const server = await startServer(loadConfigFile(cfg), { log: new Logger('silent'), controlSocket: false });
    try {
      const selfSigned = await served(server.port('c2s_tls'), 'b.test');
      const src = tmp();
      const a = makeCert(['a.test']);
      const b = makeCert(['b.test']);
      writeCertbot(src, 'a.test', a);
      writeCertbot(src, 'b.test', b);
      const both = Promise.all([next(server.certificates!, 'reloaded', 'a.test', a.sha256), next(server.certificates!, 'reloaded', 'b.test', b.sha256)]);
      const out = await new Promise<{ code: number; stdout: string }>((resolve) => {
        execFile(process.execPath, [BIN, 'cert', 'import', src, '-c', cfg], (err, stdout) => resolve({ code: err ? 1 : 0, stdout }));
      });
      assert.equal(out.code, 0, out.stdout);
      assert.match(out.stdout, /imported a\.test: .*live\/a\.test\/fullchain\.pem \(certbot\)/);
      assert.ok(out.stdout.includes(`SHA-1   ${b.sha1}`), out.stdout);
      assert.ok(out.stdout.includes(`SHA-256 ${b.sha256}`), out.stdout);
      await both;
      assert.notEqual(selfSigned, b.sha256);
      assert.equal(await served(server.port('c2s_tls'), 'a.test'), a.sha256);
      assert.equal(await served(server.port('c2s_tls'), 'b.test'), b.sha256);
      assert.equal(await served(server.port('c2s_tls')), a.sha256);
    } finally {
      await server.stop();
    }
  });

  test('a directory with nothing for any host: exit code 1 and each host reported as not found', async () => {
    const data = tmp();
    const cfg = join(root, `xmppd-${++n}.yaml`);
    await writeFile(cfg, `hosts: [${HOSTS.join(', ')}]\ndata_dir: ${data}\n`);
    const empty = tmp();
    await mkdir(empty);
    const out = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(process.execPath, [BIN, 'cert', 'import', empty, '-c', cfg], (err, stdout) => resolve({ code: err ? 1 : 0, stdout }));
    });
    assert.equal(out.code, 1);
    assert.match(out.stdout, /not found a\.test/);
    assert.match(out.stdout, /not found b\.test/);
  });
});
