// XMPP over BOSH (XEP-0124, XEP-0206) with a raw HTTP client, on both hosts: session creation, SCRAM with the
// stream restart, bind, roster, chat with a TCP user both ways, a long-poll that times out empty, request-id
// replay and window, inactivity, terminate, CORS, host-meta, bad XML and unknown sids, and the metrics.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../support/harness.js';
import { forEachHost, HOSTS, escapeRe } from '../support/each-host.js';
import { BoshClient, boshPost, NS_HTTPBIND } from '../support/bosh-client.js';
import { RawClient } from '../support/raw-client.js';
import { until } from '../support/until.js';
import { Jid } from '../../src/core/jid.js';
import { request as httpsRequest } from 'node:https';

let t: TestServer;
let port = 0;
let strictPort = 0;

before(async () => {
  t = await startTestServer({
    listen: [
      { port: 0, ip: '127.0.0.1', type: 'c2s' },
      { port: 0, ip: '127.0.0.1', type: 'http', bosh: { max_wait: 30, inactivity: 5 } },
      { port: 0, ip: '127.0.0.1', type: 'http', websocket: false, bosh: { path: '/bosh', origins: ['https://chat.example.org'], max_pause: 10 } },
    ],
    modules: { disco: {}, ping: {}, roster: {}, presence: {}, offline: {}, stream_management: {} },
  });
  [port, strictPort] = t.server.listeners.bound.filter((l) => l.type === 'http').map((l) => l.port) as [number, number];
  for (const h of HOSTS) {
    await t.addUser('alice', 'pw-alice', h);
    await t.addUser('bob', 'pw-bob', h);
  }
  for (const u of ['carol', 'dave', 'erin']) await t.addUser(u, `pw-${u}`);
});
after(() => t.stop());

const terminated = (body: string, condition: string) =>
  assert.match(body, new RegExp(`<body[^>]*type=["']terminate["'][^>]*condition=["']${condition}["']|<body[^>]*condition=["']${condition}["'][^>]*type=["']terminate["']`));

forEachHost((host) => {
  const h = escapeRe(host);

  test('the session creation response carries the session and stream attributes and the features (XEP-0124 §7.1, XEP-0206 §3)', async () => {
    const c = await BoshClient.create(port, host, { wait: 20, hold: 3 });
    try {
      const body = c.created;
      assert.match(body, new RegExp(`^<body xmlns=["']${escapeRe(NS_HTTPBIND)}["']`));
      assert.match(c.sid, /^[A-Za-z0-9_-]{24}$/, 'a random, unguessable sid');
      assert.match(body, /\swait=["']20["']/);
      assert.match(body, /\shold=["']1["']/, 'hold is bounded by max_hold');
      assert.match(body, /\srequests=["']2["']/);
      assert.match(body, /\sinactivity=["']5["']/);
      assert.match(body, new RegExp(`\\sfrom=["']${h}["']`));
      assert.match(body, /\sauthid=["'][^"']+["']/);
      assert.match(body, /xmpp:version=["']1\.0["']/);
      assert.match(body, /<stream:features[\s\S]*<mechanism>SCRAM-SHA-256<\/mechanism>/);
      assert.doesNotMatch(body, /starttls/, 'TLS belongs to the HTTP layer');
    } finally {
      c.close();
    }
  });

  test('alice logs in with SCRAM (restart, bind), gets her roster and chats with bob on TCP both ways', async () => {
    const { c, jid } = await BoshClient.login(port, host, 'alice', 'pw-alice', 'web');
    const bob = await RawClient.login(t.c2sPort, 'bob', 'pw-bob', 'tcp', { host });
    try {
      assert.equal(jid, `alice@${host}/web`);
      void c.send(`<iq type='set' id='r1' xmlns='jabber:client'><query xmlns='jabber:iq:roster'><item jid='bob@${host}' name='Bob'/></query></iq>`);
      await c.expect(/<iq[^>]*id=["']r1["'][^>]*type=["']result["']|<iq[^>]*type=["']result["'][^>]*id=["']r1["']/);
      void c.send(`<iq type='get' id='r2' xmlns='jabber:client'><query xmlns='jabber:iq:roster'/></iq>`);
      const roster = await c.expect(/<iq[^>]*id=["']r2["'][\s\S]*?<\/iq>/);
      assert.match(roster[0], new RegExp(`<item[^>]*jid=["']bob@${h}["']`));
      assert.match(roster[0], /xmlns=["']jabber:client["']/, 'stanzas in a body carry jabber:client (XEP-0206 §4)');

      void c.send(`<message to='bob@${host}/tcp' type='chat' xmlns='jabber:client'><body>hi from BOSH</body></message>`);
      const got = await bob.c.expect(/<message[\s\S]*?<\/message>/);
      assert.match(got[0], new RegExp(`from=["']alice@${h}/web["']`));
      assert.match(got[0], /<body>hi from BOSH<\/body>/);

      // Several stanzas from bob while alice's request waits arrive in that held request.
      bob.c.send(`<message to='${jid}' type='chat'><body>one</body></message><message to='${jid}' type='chat'><body>two</body></message>`);
      const m1 = await c.expect(/<message[^>]*>[\s\S]*?<body>one<\/body>[\s\S]*?<\/message>/);
      assert.match(m1[0], new RegExp(`from=["']bob@${h}/tcp["']`));
      await c.expect(/<body>two<\/body>/);
      const s = t.server.core.sessions.get(Jid.parse(jid));
      assert.ok(s, 'the session is in the session manager');
    } finally {
      await c.terminate().catch(() => {});
      bob.c.close();
    }
  });
});

test('a long-poll with nothing to send is answered with an empty body after wait, and the session goes on', async () => {
  const { c, jid } = await BoshClient.login(port, 'localhost', 'carol', 'pw-carol', 'poll', { wait: 2, quiet: true });
  try {
    const started = Date.now();
    const r = await c.raw(c.wrap(''));
    assert.ok(Date.now() - started >= 1500, 'the request was held');
    assert.match(r.body, new RegExp(`^<body xmlns=["']${escapeRe(NS_HTTPBIND)}["'][^>]*/>$`));
    void c.send(`<iq type='get' id='p1' xmlns='jabber:client' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await c.expect(/<iq[^>]*id=["']p1["']/);
    assert.ok(t.server.core.sessions.get(Jid.parse(jid)));
  } finally {
    await c.terminate().catch(() => {});
  }
});

test('a request id sent again is answered from the response cache (XEP-0124 §14.3)', async () => {
  const { c } = await BoshClient.login(port, 'localhost', 'dave', 'pw-dave', 'replay', { wait: 5, quiet: true });
  try {
    const rid = c.rid++;
    const body = c.wrap(`<iq type='get' id='v1' xmlns='jabber:client' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`, '', rid);
    const first = await boshPost(port, body);
    assert.match(first.body, /id=["']v1["']/);
    const again = await boshPost(port, body);
    assert.equal(again.body, first.body);
  } finally {
    c.close();
  }
});

test('requests that arrive early wait for the missing one and are handled in rid order', async () => {
  const { c } = await BoshClient.login(port, 'localhost', 'erin', 'pw-erin', 'order', { wait: 5, quiet: true });
  try {
    const rid = c.rid;
    c.rid += 2;
    const later = boshPost(port, c.wrap(`<iq type='get' id='o2' xmlns='jabber:client' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`, '', rid + 1));
    await new Promise((r) => setTimeout(r, 200));
    const first = boshPost(port, c.wrap(`<iq type='get' id='o1' xmlns='jabber:client' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`, '', rid));
    const text = (await first).body + (await later).body;
    // The ping sent first by rid is answered first (the pings were sent the other way round).
    assert.match(text, /id=["']o1["'][\s\S]*id=["']o2["']/);
  } finally {
    c.close();
  }
});

test('hold=0 is polling: each request is answered at once and what the server has comes in the next one', async () => {
  const c = await BoshClient.create(port, 'localhost', { hold: 0 });
  assert.match(c.created, /\srequests=["']1["']/);
  const plain = Buffer.from('\0dave\0pw-dave').toString('base64');
  const first = await c.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${plain}</auth>`);
  assert.doesNotMatch(first, /<success/, 'answered before the stanza was handled');
  await until(async () => /<success/.test(await c.send('')), 'a later poll carries the SASL success');
  c.close();
});

test("xmpp:restart before SASL success is a bad-request and ends the session (XEP-0206 §5)", async () => {
  const c = await BoshClient.create(port, 'localhost');
  terminated(await c.send('', ` xmpp:restart='true'`), 'bad-request');
  terminated(await c.send(''), 'item-not-found');
  c.close();
});

test('a rid beyond the window ends the session with item-not-found (§14.2), and so does a wrong sid', async () => {
  const c = await BoshClient.create(port, 'localhost');
  const r = await boshPost(port, c.wrap('', '', c.rid + 10));
  terminated(r.body, 'item-not-found');
  const after = await boshPost(port, c.wrap(''));
  terminated(after.body, 'item-not-found');
  const wrong = await boshPost(port, `<body xmlns='${NS_HTTPBIND}' sid='no-such-session' rid='5'/>`);
  terminated(wrong.body, 'item-not-found');
  c.close();
});

test('bad XML, a body that is not a BOSH body, and a creation without to are bad-request (§17.2)', async () => {
  terminated((await boshPost(port, '<body xmlns=')).body, 'bad-request');
  terminated((await boshPost(port, `<body xmlns='${NS_HTTPBIND}' rid='1'><!-- hi --></body>`)).body, 'bad-request');
  terminated((await boshPost(port, `<stream xmlns='${NS_HTTPBIND}' rid='1'/>`)).body, 'bad-request');
  terminated((await boshPost(port, `<body xmlns='${NS_HTTPBIND}' rid='1' wait='5' hold='1' xmlns:xmpp='urn:xmpp:xbosh' xmpp:version='1.0'/>`)).body, 'bad-request');
  terminated((await boshPost(port, BoshClient.creationBody('elsewhere.example', 1))).body, 'host-unknown');
  const big = await boshPost(port, `<body xmlns='${NS_HTTPBIND}' rid='1'>${'x'.repeat(t.server.core.config.max_stanza_size + 8192)}</body>`).catch(() => null);
  if (big) assert.equal(big.status, 413);
});

test('a session without requests for longer than inactivity ends, and its resource goes away', async () => {
  const { c, jid } = await BoshClient.login(port, 'localhost', 'alice', 'pw-alice', 'idle', { wait: 1 });
  c.close(); // no more requests
  assert.ok(t.server.core.sessions.get(Jid.parse(jid)));
  await until(() => !t.server.core.sessions.get(Jid.parse(jid)), 'the idle BOSH session ended', 15_000);
  terminated((await boshPost(port, c.wrap(''))).body, 'item-not-found');
});

test('with stream management, an inactive BOSH session waits for resumption and is resumed on TCP (XEP-0198)', async () => {
  const { c, jid } = await BoshClient.login(port, 'localhost', 'carol', 'pw-carol', 'roaming', { wait: 1, quiet: true });
  c.fire("<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
  const id = /\bid=["']([^"']+)["']/.exec((await c.expect(/<enabled[^>]*>/))[0])?.[1];
  assert.ok(id, 'resumable');
  const session = t.server.core.sessions.get(Jid.parse(jid)) as unknown as { detached: boolean };
  c.close(); // the browser tab sleeps: no more requests
  await until(() => session.detached, 'the server keeps the session for resumption after inactivity', 15_000);
  const tcp = await RawClient.secured(t.c2sPort);
  try {
    assert.ok((await tcp.authScram('SCRAM-SHA-256', 'carol', 'pw-carol')).startsWith('<success'));
    tcp.openStream('localhost');
    await tcp.features();
    tcp.send(`<resume xmlns='urn:xmpp:sm:3' previd='${id}' h='0'/>`);
    await tcp.expect(/<resumed xmlns=["']urn:xmpp:sm:3["']/);
    assert.equal(t.server.core.sessions.get(Jid.parse(jid)), session, 'the same session');
  } finally {
    tcp.close();
  }
});

test("type='terminate' ends the session: the answer is a terminate body and the sid is gone", async () => {
  const { c, jid } = await BoshClient.login(port, 'localhost', 'alice', 'pw-alice', 'bye');
  const body = await c.terminate();
  assert.match(body, /type=["']terminate["']/);
  await until(() => !t.server.core.sessions.get(Jid.parse(jid)), 'the session left');
  terminated((await boshPost(port, c.wrap(''))).body, 'item-not-found');
});

test('pause answers the held requests; a longer pause than max_pause is a policy-violation (§10)', async () => {
  const c = await BoshClient.create(strictPort, 'localhost', { path: '/bosh', wait: 10 });
  const r = await boshPost(strictPort, c.wrap('', ` pause='5'`), { path: '/bosh' });
  assert.match(r.body, /^<body[^>]*\/>$/);
  assert.doesNotMatch(r.body, /terminate/);
  const over = await boshPost(strictPort, c.wrap('', ` pause='60'`), { path: '/bosh' });
  terminated(over.body, 'policy-violation');
});

test('CORS: a preflight is answered, answers carry Access-Control-Allow-Origin; origins limits who may use it', async () => {
  const pre = await boshPost(port, '', { method: 'OPTIONS', headers: { origin: 'https://any.example', 'access-control-request-method': 'POST' } });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers['access-control-allow-origin'], '*');
  assert.match(String(pre.headers['access-control-allow-methods']), /POST/);
  assert.match(String(pre.headers['access-control-allow-headers']), /content-type/i);
  const created = await boshPost(port, BoshClient.creationBody('localhost', 7), { headers: { origin: 'https://any.example' } });
  assert.equal(created.headers['access-control-allow-origin'], '*');

  const ok = await boshPost(strictPort, '', { path: '/bosh', method: 'OPTIONS', headers: { origin: 'https://chat.example.org' } });
  assert.equal(ok.headers['access-control-allow-origin'], 'https://chat.example.org');
  const refused = await boshPost(strictPort, BoshClient.creationBody('localhost', 7), { path: '/bosh', headers: { origin: 'https://evil.example' } });
  assert.equal(refused.status, 403);
  assert.equal(refused.headers['access-control-allow-origin'], undefined);
});

test('host-meta and host-meta.json list the BOSH endpoint (XEP-0156) next to WebSocket', async () => {
  const xrd = await boshPost(port, '', { path: '/.well-known/host-meta', method: 'GET', headers: { host: `example.test:${port}` } });
  assert.match(xrd.body, new RegExp(`<Link rel="urn:xmpp:alt-connections:xbosh" href="http://example\\.test:${port}/http-bind"/>`));
  assert.match(xrd.body, /urn:xmpp:alt-connections:websocket/);
  const json = JSON.parse((await boshPost(strictPort, '', { path: '/.well-known/host-meta.json', method: 'GET', headers: { host: 'localhost' } })).body) as { links: Array<{ rel: string; href: string }> };
  assert.deepEqual(json.links, [{ rel: 'urn:xmpp:alt-connections:xbosh', href: 'http://localhost/bosh' }]);
});

test('BOSH sessions count in xmppd_connections with the http_bosh transport label', async () => {
  const c = await BoshClient.create(port, 'localhost');
  try {
    const text = await t.server.core.metrics.registry.metrics();
    const m = /xmppd_connections\{type="http_bosh"\} (\d+)/.exec(text);
    assert.ok(m && Number(m[1]) >= 1, text.split('\n').filter((l) => l.startsWith('xmppd_connections')).join('\n'));
  } finally {
    c.close();
  }
});

test('BOSH over an https listener: a session is created over TLS and host-meta names the https endpoint', async () => {
  const s = await startTestServer({ listen: [{ port: 0, ip: '127.0.0.1', type: 'https' }], modules: { disco: {} } });
  try {
    const p = s.server.listeners.bound.find((l) => l.type === 'https')!.port;
    const post = (path: string, method: string, body: string) => new Promise<string>((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port: p, path, method, ca: s.certPem, servername: 'localhost', headers: { host: `localhost:${p}`, 'content-type': 'text/xml; charset=utf-8' } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => { text += d; });
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      req.end(body);
    });
    const created = await post('/http-bind', 'POST', BoshClient.creationBody('localhost', 42));
    assert.match(created, /\ssecure=["']true["']/);
    const xrd = await post('/.well-known/host-meta', 'GET', '');
    assert.match(xrd, new RegExp(`<Link rel="urn:xmpp:alt-connections:xbosh" href="https://localhost:${p}/http-bind"/>`));
  } finally {
    await s.stop();
  }
});

test('BOSH sessions count against limits.max_connections_per_ip: one more is refused with policy-violation', async () => {
  const s = await startTestServer({ listen: [{ port: 0, ip: '127.0.0.1', type: 'http' }], limits: { max_connections_per_ip: 2 }, modules: { disco: {} } });
  try {
    const p = s.server.listeners.bound.find((l) => l.type === 'http')!.port;
    const a = await BoshClient.create(p, 'localhost');
    const b = await BoshClient.create(p, 'localhost');
    terminated((await boshPost(p, BoshClient.creationBody('localhost', 9))).body, 'policy-violation');
    assert.match(await a.send('', " type='terminate'"), /type=["']terminate["']/);
    await until(async () => /\ssid=/.test((await boshPost(p, BoshClient.creationBody('localhost', 11))).body), 'a session ended frees its slot');
    b.close();
    a.close();
  } finally {
    await s.stop();
  }
});
