// XEP-0215 over real sockets on both hosts: alice lists the services (all, or of one type), restricted ones
// with TURN REST API credentials; asks for credentials of one service (§3.3); a user of the other host is
// refused; bad requests get bad-request / item-not-found; bad options are refused with their YAML path.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { startTestServer, HOSTS, type TestServer } from '../../test/support/harness.js';
import { forEachHost } from '../../test/support/each-host.js';
import { RawClient } from '../../test/support/raw-client.js';
import { Logger } from '../../src/core/log.js';
import { assertStanza, discoFeature, iqResult, parseStanza, stanzaError } from '../../test/support/stanza-match.js';

const NS = 'urn:xmpp:extdisco:2';
const SECRET = 'shared-turn-secret';
const TTL = 3600;
const SERVICES = [
  { type: 'stun', host: 'stun.example.net' },
  { type: 'turn', host: 'turn.example.net', port: 3479, transport: 'udp' },
  { type: 'turn', host: 'turn.example.net', port: 3479, transport: 'tcp', name: 'TURN over TCP' },
  { type: 'turns', host: 'turn.example.net' },
  { type: 'stun', host: 'open-turn.example.net', restricted: false },
];

let t: TestServer;
const logLines: string[] = [];
const handedOut: string[] = []; // TURN passwords the server answered with: never in a log line either
before(async () => {
  const log = new Logger('debug', {}, (line) => logLines.push(line), false);
  t = await startTestServer({ modules: { disco: {}, external_services: { services: SERVICES, turn_secret: SECRET, credential_ttl: TTL } } }, { log });
  for (const h of HOSTS) await t.addUser('alice', 'pw-alice', h);
});
after(() => t?.stop());

const login = async (host: string) => (await RawClient.login(t.c2sPort, 'alice', 'pw-alice', 'media', { host })).c;

/** The TURN REST API credentials a restricted service must carry for `user`, checked against the formula. */
function assertCredentials(service: Record<string, string | undefined>, user: string): void {
  const m = /^(\d+):(.+)$/.exec(service.username ?? '');
  assert.ok(m, `username is "<expiry>:<user>": ${service.username}`);
  assert.equal(m[2], user);
  const expiry = Number(m[1]);
  const now = Date.now() / 1000;
  assert.ok(expiry > now + TTL - 60 && expiry <= now + TTL + 1, `expiry ${expiry} is credential_ttl from now`);
  handedOut.push(service.password!);
  assert.equal(service.password, createHmac('sha1', SECRET).update(service.username!).digest('base64'));
  assert.equal(service.expires, new Date(expiry * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'), 'expires is the same instant, XEP-0082');
}

forEachHost((host) => {
  test('the server advertises urn:xmpp:extdisco:2', async () => {
    const c = await login(host);
    assertStanza(await c.iq('d1', `<iq type='get' id='d1' to='${host}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`), discoFeature(NS));
    c.close();
  });

  test('alice lists every service; restricted ones carry credentials for her bare JID', async () => {
    const c = await login(host);
    const r = await c.iq('s1', `<iq type='get' id='s1' to='${host}'><services xmlns='${NS}'/></iq>`);
    assertStanza(r, iqResult({
      name: 'services', ns: NS, children: [
        { name: 'service', attrs: { type: 'stun', host: 'stun.example.net', port: '3478', transport: 'udp', restricted: null, username: null, password: null } },
        { name: 'service', attrs: { type: 'turn', host: 'turn.example.net', port: '3479', transport: 'udp', restricted: 'true' } },
        { name: 'service', attrs: { type: 'turn', host: 'turn.example.net', port: '3479', transport: 'tcp', restricted: 'true', name: 'TURN over TCP' } },
        { name: 'service', attrs: { type: 'turns', host: 'turn.example.net', port: '5349', transport: 'tcp', restricted: 'true' } },
        { name: 'service', attrs: { type: 'stun', host: 'open-turn.example.net', port: '3478', restricted: null, password: null } },
      ],
    }));
    for (const s of parseStanza(r).getChild('services')!.getChildren('service')) {
      if (s.attrs.restricted) assertCredentials(s.attrs, `alice@${host}`);
    }
    c.close();
  });

  test('a type filter lists only that type (§3.2); an unknown type lists nothing', async () => {
    const c = await login(host);
    const r = await c.iq('s2', `<iq type='get' id='s2' to='${host}'><services xmlns='${NS}' type='turn'/></iq>`);
    assertStanza(r, iqResult({ name: 'services', ns: NS, attrs: { type: 'turn' }, children: [
      { name: 'service', attrs: { type: 'turn', transport: 'udp' } },
      { name: 'service', attrs: { type: 'turn', transport: 'tcp' } },
    ] }));
    const stun = await c.iq('s3', `<iq type='get' id='s3' to='${host}'><services xmlns='${NS}' type='stun'/></iq>`);
    assertStanza(stun, iqResult({ name: 'services', ns: NS, children: [{ name: 'service', attrs: { host: 'stun.example.net' } }, { name: 'service', attrs: { host: 'open-turn.example.net' } }] }));
    assertStanza(await c.iq('s4', `<iq type='get' id='s4' to='${host}'><services xmlns='${NS}' type='ftp'/></iq>`), iqResult({ name: 'services', ns: NS, children: [] }));
    c.close();
  });

  test('alice asks for credentials of one service (§3.3), by host and type, and by port too', async () => {
    const c = await login(host);
    const r = await c.iq('c1', `<iq type='get' id='c1' to='${host}'><credentials xmlns='${NS}'><service host='turn.example.net' type='turns'/></credentials></iq>`);
    assertStanza(r, iqResult({ name: 'credentials', ns: NS, children: [{ name: 'service', attrs: { type: 'turns', host: 'turn.example.net', port: '5349', restricted: 'true' } }] }));
    assertCredentials(parseStanza(r).getChild('credentials')!.getChild('service')!.attrs, `alice@${host}`);
    const byPort = await c.iq('c2', `<iq type='get' id='c2' to='${host}'><credentials xmlns='${NS}'><service host='turn.example.net' type='turn' port='3479'/></credentials></iq>`);
    assertStanza(byPort, iqResult({ name: 'credentials', ns: NS, children: [{ name: 'service', attrs: { type: 'turn', port: '3479', username: new RegExp(`:alice@${host.replace(/\./g, '\\.')}$`) } }] }));
    c.close();
  });

  test('credentials for an unknown service: item-not-found; without host/type, a set, or another payload: bad-request', async () => {
    const c = await login(host);
    assertStanza(await c.iq('e1', `<iq type='get' id='e1' to='${host}'><credentials xmlns='${NS}'><service host='elsewhere.example.net' type='turn'/></credentials></iq>`), stanzaError('item-not-found'));
    assertStanza(await c.iq('e2', `<iq type='get' id='e2' to='${host}'><credentials xmlns='${NS}'><service host='turn.example.net' type='turn' port='9'/></credentials></iq>`), stanzaError('item-not-found'));
    assertStanza(await c.iq('e3', `<iq type='get' id='e3' to='${host}'><credentials xmlns='${NS}'><service host='turn.example.net'/></credentials></iq>`), stanzaError('bad-request'));
    assertStanza(await c.iq('e4', `<iq type='get' id='e4' to='${host}'><credentials xmlns='${NS}'/></iq>`), stanzaError('bad-request'));
    assertStanza(await c.iq('e5', `<iq type='set' id='e5' to='${host}'><services xmlns='${NS}'/></iq>`), stanzaError('bad-request'));
    assertStanza(await c.iq('e6', `<iq type='get' id='e6' to='${host}'><relays xmlns='${NS}'/></iq>`), stanzaError('bad-request'));
    c.close();
  });

  test('a user of another host is refused with forbidden, for the list and for credentials', async () => {
    const other = HOSTS.find((h) => h !== host)!;
    const c = await login(other);
    const r = await c.iq('f1', `<iq type='get' id='f1' to='${host}'><services xmlns='${NS}'/></iq>`);
    assertStanza(r, stanzaError('forbidden'));
    assert.doesNotMatch(r, /password=/, 'no credentials leak in the error');
    assertStanza(await c.iq('f2', `<iq type='get' id='f2' to='${host}'><credentials xmlns='${NS}'><service host='turn.example.net' type='turn'/></credentials></iq>`), stanzaError('forbidden'));
    c.close();
  });
});

test('the shared secret and the passwords handed out are never logged, not even at debug level', () => {
  assert.ok(logLines.some((l) => l.includes('external services offered')), 'the module\'s start was logged');
  assert.ok(handedOut.length >= 8, 'passwords were handed out on both hosts');
  for (const l of logLines) {
    assert.ok(!l.includes(SECRET), `a log line carries the secret: ${l}`);
    for (const p of handedOut) assert.ok(!l.includes(p), `a log line carries a TURN password: ${l}`);
  }
});

test('bad options are refused with their YAML path', async () => {
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ services: [{ type: 'stun', host: 'a.example' }, { type: 'turn', host: 'b.example', port: 70000 }], turn_secret: 's' }, /modules\.external_services\.services: \[1\]\.port: must be a whole number from 1 to 65535/],
    [{ services: [{ type: 'relay', host: 'a.example' }] }, /modules\.external_services\.services: \[0\]\.type: must be one of stun, turn, turns/],
    [{ services: [{ type: 'turn', host: 'a.example', transport: 'sctp' }], turn_secret: 's' }, /\[0\]\.transport: must be one of udp, tcp/],
    [{ services: [{ type: 'turns', host: 'a.example', transport: 'udp' }], turn_secret: 's' }, /\[0\]\.transport: turns is TURN over TLS/],
    [{ services: [{ type: 'turn', host: 'a.example', restricted: 'yes' }], turn_secret: 's' }, /\[0\]\.restricted: must be true or false/],
    [{ services: [{ type: 'turn', host: 'a.example', secret: 'x' }] }, /\[0\]\.secret: unknown key/],
    [{ services: [{ type: 'turn', host: 'bad host!' }], turn_secret: 's' }, /\[0\]\.host: must be a host name/],
    [{ services: { type: 'turn' } }, /modules\.external_services\.services: must be a list/],
    [{ credential_ttl: 0 }, /modules\.external_services\.credential_ttl: must be at least 1/],
    [{ services: [{ type: 'turn', host: 'turn.example' }] }, /modules\.external_services\.turn_secret: must be set .* services\[0\] is restricted/],
  ];
  for (const [options, message] of bad) {
    await assert.rejects(startTestServer({ modules: { external_services: options } }), message, JSON.stringify(options));
  }
});
