// `xmppd check-config`'s certificate and DNS parts: certificates made with node-forge in a temp dir (expired,
// naming another host, a key of another pair, close to expiry), and DNS answered by a loopback responder
// named in s2s.dns_servers, so that no test ever asks the system resolver about test domains.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { buildConfig } from '../../../src/core/config/load-config.js';
import { checkCertificates, serviceDomains } from '../../../src/cli/check/cert-check.js';
import { BUNDLED_MODULES } from '../../../modules/index.js';
import { checkDns } from '../../../src/cli/check/dns-check.js';
import { DnsResponder } from '../../e2e/interop/dns-responder.js';

const DAY = 86_400_000;
const dir = mkdtempSync(join(tmpdir(), 'xmppd-certcheck-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function keyPair(): { pem: string; key: forge.pki.rsa.PrivateKey; pub: forge.pki.rsa.PublicKey } {
  // node:crypto makes the key (forge's JS RSA generation is slow); forge makes the certificates.
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const key = forge.pki.privateKeyFromPem(pem) as forge.pki.rsa.PrivateKey;
  return { pem, key, pub: forge.pki.setRsaPublicKey(key.n, key.e) };
}

/** A self-signed certificate for `names` (SAN dNSName), valid from `from` to `to`; returns the cert and key files. */
function certificate(name: string, names: string[], from: number, to: number, kp = keyPair()): { cert: string; key: string } {
  const c = forge.pki.createCertificate();
  c.publicKey = kp.pub;
  c.serialNumber = '01' + forge.util.bytesToHex(forge.random.getBytesSync(8));
  c.validity.notBefore = new Date(from);
  c.validity.notAfter = new Date(to);
  const subject = [{ name: 'commonName', value: names[0]! }];
  c.setSubject(subject);
  c.setIssuer(subject);
  c.setExtensions([{ name: 'subjectAltName', altNames: names.map((value) => ({ type: 2, value })) }]);
  c.sign(kp.key, forge.md.sha256.create());
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  writeFileSync(cert, forge.pki.certificateToPem(c));
  writeFileSync(key, kp.pem);
  return { cert, key };
}

const now = Date.now();
const errorsOf = (f: Array<{ severity: string; yamlPath: string; problem: string }>) => f.filter((x) => x.severity === 'error');

test('a sound certificate: ok, with the hosts it covers and the days left', () => {
  const good = certificate('good', ['localhost', 'example.test'], now - DAY, now + 90 * DAY);
  const f = checkCertificates(buildConfig({ hosts: ['localhost', 'example.test'], tls: good }), now);
  assert.deepEqual(errorsOf(f), []);
  const ok = f.find((x) => x.severity === 'ok')!;
  assert.equal(ok.yamlPath, 'tls.cert');
  assert.match(ok.problem, /covers localhost, example\.test, valid until \d{4}-\d\d-\d\d \((89|90) days left\)/);
});

test('an expired certificate and one naming another host are errors with their YAML path', () => {
  const expired = certificate('expired', ['localhost'], now - 100 * DAY, now - 3 * DAY);
  const wrong = certificate('wrong', ['other.example'], now - DAY, now + 90 * DAY);
  const f = checkCertificates(buildConfig({
    hosts: ['localhost', 'example.test'], tls: expired, host_config: { 'example.test': { tls: wrong } },
  }), now);
  const errs = errorsOf(f);
  assert.ok(errs.some((e) => e.yamlPath === 'tls.cert' && /expired on \d{4}-\d\d-\d\d \(3 days ago\)/.test(e.problem)), JSON.stringify(errs));
  assert.ok(errs.some((e) => e.yamlPath === 'host_config.example.test.tls.cert' && /does not cover example\.test \(it names other\.example\)/.test(e.problem)), JSON.stringify(errs));
  assert.equal(errs.length, 2, JSON.stringify(errs));
});

test('a key that is not the certificate\'s, an unreadable file, and a certificate close to expiry', () => {
  const a = certificate('pair-a', ['localhost'], now - DAY, now + 90 * DAY);
  const b = certificate('pair-b', ['localhost'], now - DAY, now + 90 * DAY);
  let errs = errorsOf(checkCertificates(buildConfig({ tls: { cert: a.cert, key: b.key } }), now));
  assert.deepEqual(errs.map((e) => e.yamlPath), ['tls.key']);
  assert.match(errs[0]!.problem, /pair-b\.key is not the key of .*pair-a\.crt/);
  errs = errorsOf(checkCertificates(buildConfig({ tls: { cert: join(dir, 'missing.crt'), key: a.key } }), now));
  assert.deepEqual(errs.map((e) => [e.yamlPath, /cannot read .*missing\.crt \(ENOENT\)/.test(e.problem)]), [['tls.cert', true]]);
  const soon = certificate('soon', ['localhost'], now - 80 * DAY, now + 5 * DAY + 3600_000);
  const f = checkCertificates(buildConfig({ tls: soon }), now);
  assert.deepEqual(errorsOf(f), []);
  assert.ok(f.some((x) => x.severity === 'warning' && x.yamlPath === 'tls.cert' && /5 days left/.test(x.problem)), JSON.stringify(f));
});

test('with federation, service domains (MUC, pubsub) the certificate does not name are warnings', () => {
  const c = certificate('host-only', ['chat.example.org', 'conference.chat.example.org'], now - DAY, now + 90 * DAY);
  const config = buildConfig({ hosts: ['chat.example.org'], tls: c, listen: [{ port: 0, type: 's2s' }], modules: { muc: {}, pubsub: {}, disco: {} } });
  const f = checkCertificates(config, now, serviceDomains(config, BUNDLED_MODULES));
  assert.deepEqual(errorsOf(f), []);
  assert.deepEqual(f.filter((x) => x.severity === 'warning').map((x) => [x.yamlPath, x.problem.split(' ')[0]]), [['modules.pubsub.host', 'pubsub.chat.example.org']]);
  // Without federation nobody checks those names.
  const local = buildConfig({ hosts: ['chat.example.org'], tls: c, modules: { muc: {}, pubsub: {}, disco: {} } });
  assert.deepEqual(checkCertificates(local, now, serviceDomains(local, BUNDLED_MODULES)).filter((x) => x.severity === 'warning'), []);
});

test('no certificate configured: a warning that a self-signed one is used', () => {
  const f = checkCertificates(buildConfig({ data_dir: join(dir, 'data') }), now);
  assert.deepEqual(f.map((x) => [x.severity, x.yamlPath]), [['warning', 'tls']]);
  assert.match(f[0]!.problem, /self-signed/);
});

let dns: DnsResponder;
before(async () => {
  dns = new DnsResponder();
  await dns.start();
});
after(() => dns.stop());

test('DNS (loopback responder from s2s.dns_servers): SRV records found, a wrong port, a host without records; warnings only', async () => {
  dns.set('_xmpp-client._tcp.good.xmppd-check.org', [{ type: 'SRV', srv: { priority: 0, weight: 5, port: 5222, target: 'xmpp.good.xmppd-check.org' } }]);
  dns.set('_xmpps-client._tcp.good.xmppd-check.org', [{ type: 'SRV', srv: { priority: 0, weight: 5, port: 5223, target: 'xmpp.good.xmppd-check.org' } }]);
  dns.set('xmpp.good.xmppd-check.org', [{ type: 'A', address: '192.0.2.10' }]);
  dns.set('_xmpp-client._tcp.port.xmppd-check.org', [{ type: 'SRV', srv: { priority: 0, weight: 5, port: 5999, target: 'xmpp.port.xmppd-check.org' } }]);
  dns.set('xmpp.port.xmppd-check.org', [{ type: 'A', address: '192.0.2.11' }]);
  const config = buildConfig({
    hosts: ['good.xmppd-check.org', 'port.xmppd-check.org', 'none.xmppd-check.org', 'localhost'],
    listen: [{ port: 5222, type: 'c2s' }, { port: 5223, type: 'c2s_tls' }],
    s2s: { dns_servers: [`127.0.0.1:${dns.port}`] },
  });
  const f = await checkDns(config);
  assert.ok(f.every((x) => x.severity !== 'error'));
  const at = (host: number) => f.filter((x) => x.yamlPath === `hosts[${host}]`);
  assert.deepEqual(at(0).map((x) => x.severity), ['ok', 'ok'], JSON.stringify(at(0)));
  assert.match(at(0)[0]!.problem, /_xmpp-client\._tcp\.good\.xmppd-check\.org -> xmpp\.good\.xmppd-check\.org:5222 \(192\.0\.2\.10\)/);
  assert.ok(at(1).some((x) => x.severity === 'warning' && /gives port 5999 .*but c2s listens on 5222/.test(x.problem)), JSON.stringify(at(1)));
  assert.ok(at(2).some((x) => x.severity === 'warning' && /no _xmpp-client\._tcp\.none\.xmppd-check\.org SRV record and no A\/AAAA record/.test(x.problem)), JSON.stringify(at(2)));
  assert.deepEqual(at(3), [], 'localhost is never looked up');
  assert.ok(!dns.queries.some((q) => /localhost/.test(q)), dns.queries.join('\n'));
  assert.ok(f.some((x) => x.yamlPath === 'hosts' && /not checked for localhost/.test(x.problem)));
});

test('DNS that does not answer: one warning, the check goes on (never an error)', async () => {
  const config = buildConfig({ hosts: ['good.xmppd-check.org'], s2s: { dns_servers: ['127.0.0.1:1'] } });
  const f = await checkDns(config);
  assert.deepEqual(f.map((x) => x.severity), ['warning']);
  assert.match(f[0]!.problem, /DNS did not answer .*DNS checks skipped/);
});
