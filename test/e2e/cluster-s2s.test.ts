// Federation with a cluster (RFC 6120 s2s; issue 13): a.test runs on two xmppd nodes (one certificate, one dialback
// secret), b.test is a single server that reaches a.test through node x1 only. A stanza from b.test arriving at x1
// for a user on x2 is delivered; the user's answers leave through x2's own outbound stream; a b.test user joins
// a MUC room of conference.a.test held by x2 through x1 and chats in it.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { NatsCluster, natsSkip } from '../support/nats-cluster.js';
import { clusterName, clusterSection, sees, CLUSTER_MODULES } from '../support/cluster-nodes.js';
import { clusterAccounts } from '../support/cluster-accounts.js';
import { startTestServer, type TestServer } from '../support/harness.js';
import { until } from '../support/until.js';
import { TestCa } from './interop/test-ca.js';
import { XmppdPeer } from './interop/xmppd-peer.js';
import { freePorts } from './interop/net-util.js';
import { login, stanzaWithId } from './interop/xmpp-client.js';
import { Logger } from '../../src/core/log.js';
import { codes, createInstant, item, join, next, presenceFrom } from '../../modules/muc/test-support.js';

const ROOM = 'bridge@conference.a.test';

describe('federation with a cluster', { skip: natsSkip() }, () => {
  const tmp = mkdtempSync(joinPath(tmpdir(), 'xmppd-cluster-s2s-'));
  const ca = new TestCa(tmp);
  let nats: NatsCluster;
  const n: TestServer[] = [];
  let b: XmppdPeer;

  before(async () => {
    nats = await NatsCluster.start(3);
    const [p1, p2, pb] = await freePorts(3);
    const cert = ca.issue('a', { dns: ['a.test', 'conference.a.test'] });
    const name = clusterName();
    for (const [i, port] of [p1!, p2!].entries()) {
      n.push(await startTestServer({
        hosts: ['a.test'],
        listen: [{ port: 0, ip: '127.0.0.1', type: 'c2s' }, { port, ip: '127.0.0.1', type: 's2s' }],
        tls: { cert: cert.certFile, key: cert.keyFile },
        s2s: { system_ca: false, connect_timeout: 5, cafile: ca.certFile, dialback_secret: 'one secret for the cluster', overrides: { 'b.test': `127.0.0.1:${pb}` } },
        modules: { ...CLUSTER_MODULES, muc: {} },
        cluster: clusterSection(nats, name, `x${i + 1}`),
      }, { log: new Logger('silent') }));
    }
    await until(() => n.every((t) => t.server.clusterSessions!.liveness.nodes.size >= 2), 'the nodes see each other');
    await clusterAccounts(n, ['alice'], ['a.test']);
    b = await XmppdPeer.start({
      domain: 'b.test', s2sPort: pb!, cert: ca.issue('b', { dns: ['b.test'] }),
      // b.test knows a.test (and its MUC service) at node x1 only.
      s2s: { cafile: ca.certFile, overrides: { 'a.test': `127.0.0.1:${p1}`, 'conference.a.test': `127.0.0.1:${p1}` } }, users: { bob: 'pw-bob' },
      config: { modules: { disco: {}, roster: {}, presence: {}, ping: {} } },
    });
  });
  after(async () => {
    await b?.stop();
    for (const t of n) await t.stop();
    await nats?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  test('a remote stanza arriving at x1 reaches a user on x2, whose answer leaves from x2', async () => {
    const alice = await login(n[1]!.c2sPort, 'a.test', 'alice', 'pw-alice', { resource: 'desk' });
    await sees(n[0]!, 'alice@a.test/desk');
    const bob = await login(b.c2sPort, 'b.test', 'bob', 'pw-bob', { resource: 'phone' });
    bob.c.send(`<message to='alice@a.test/desk' type='chat' id='in1'><body>hi alice</body></message>`);
    assert.match(await stanzaWithId(alice.c, 'in1', 15_000), /from=["']bob@b\.test\/phone["'][\s\S]*hi alice/);
    bob.c.send(`<message to='alice@a.test' type='chat' id='in2'><body>to your account</body></message>`);
    assert.match(await stanzaWithId(alice.c, 'in2', 15_000), /to your account/);
    assert.equal(n[1]!.server.s2s!.list().filter((s) => s.direction === 'in').length, 0, 'x2 has no incoming stream: it came through x1');
    alice.c.send(`<message to='bob@b.test/phone' type='chat' id='out1'><body>hi bob</body></message>`);
    assert.match(await stanzaWithId(bob.c, 'out1', 15_000), /from=["']alice@a\.test\/desk["'][\s\S]*hi bob/);
    assert.ok(n[1]!.server.s2s!.list().some((s) => s.direction === 'out' && s.remote === 'b.test'), 'x2 sent it on its own outbound stream');
    alice.c.close();
    bob.c.close();
  });

  test('a remote user joins a room held by x2 through x1 and chats with a local user', async () => {
    const alice = await login(n[1]!.c2sPort, 'a.test', 'alice', 'pw-alice', { resource: 'room' });
    await sees(n[0]!, 'alice@a.test/room');
    await createInstant(alice.c, ROOM, 'Alice'); // held by x2, where alice's join arrived
    const bob = await login(b.c2sPort, 'b.test', 'bob', 'pw-bob', { resource: 'muc' });
    const got = await join(bob.c, `${ROOM}/Bob`);
    assert.deepEqual(codes(got.find((e) => e.attrs.from === `${ROOM}/Bob`)!), [110]);
    assert.equal(item(await next(alice.c, presenceFrom(`${ROOM}/Bob`), 15_000)).jid, 'bob@b.test/muc');
    bob.c.send(`<message to='${ROOM}' type='groupchat' id='fed1'><body>hello from b.test</body></message>`);
    for (const c of [alice.c, bob.c]) assert.match(await stanzaWithId(c, 'fed1', 15_000), /hello from b\.test/);
    alice.c.send(`<message to='${ROOM}' type='groupchat' id='fed2'><body>welcome</body></message>`);
    assert.match(await stanzaWithId(bob.c, 'fed2', 15_000), /welcome/);
    alice.c.close();
    bob.c.close();
  });
});
