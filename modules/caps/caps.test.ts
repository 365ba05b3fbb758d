// caps over real sockets on every host: XEP-0115 §6.2 queries on node#ver and their verification, the
// server-wide cache (one query per hash, none for a known one, none after a restart), poisoning refused
// (§5.4: an answer that does not verify serves its own session only), XEP-0390 hash sets, legacy caps kept
// per session, forgetting on unavailable, the query limits, and the server's own caps in the stream
// features (§6.3). CAPS_SERVICE is read as another module reads it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import { forEachHost, HOSTS } from '../../test/support/each-host.js';
import { RawClient } from '../../test/support/raw-client.js';
import { until } from '../../test/support/until.js';
import { Jid } from '../../src/core/jid.js';
import { CAPS_SERVICE, parseXml, type CapsApi } from '../../src/sdk.js';
import { caps1Ver, caps2Hash } from './caps-hash.js';
import { parseDiscoInfo } from './disco-data.js';

const CONFIG = { modules: { disco: {}, roster: {}, presence: {}, caps: { query_timeout: 1 } } };
const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const NODE = 'https://client.example/caps';
let dir: string;
let t: TestServer;
/** caps_updated as the server ran it: host, full JID, features. */
let updates: Array<{ host: string; jid: string; features: string[] }> = [];

async function start(): Promise<void> {
  t = await startTestServer(CONFIG, { dir });
  updates = [];
  for (const host of HOSTS) {
    t.server.core.hooks.on('caps_updated', ({ jid, features }) => void updates.push({ host, jid: jid.toString(), features: [...features].sort() }), 50, 'caps-test', host);
  }
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xmppd-caps-'));
  await start();
  for (const host of HOSTS) for (const u of ['alice', 'bob', 'carol']) await t.addUser(u, `pw-${u}`, host);
});
after(async () => {
  await t.stop();
  await rm(dir, { recursive: true, force: true });
});

/** CAPS_SERVICE on `host`, as ctx.service(CAPS_SERVICE) gives it to a module there. */
const api = (host: string) => t.server.core.services.get<CapsApi>(host, CAPS_SERVICE.name)!;

async function lookups(host: string, result: string): Promise<number> {
  const m = t.server.core.metrics.registry.getSingleMetric('xmppd_caps_lookups_total');
  const v = m && (await m.get()).values.find((x) => x.labels.host === host && x.labels.result === result);
  return v ? v.value : 0;
}

/** A disco#info body: one client identity and these features. */
const body = (features: string[]) => `<identity category='client' type='pc' name='Caps Test'/>${features.map((f) => `<feature var='${f}'/>`).join('')}`;
const infoOf = (features: string[]) => parseDiscoInfo(parseXml(`<query xmlns='${NS_DISCO_INFO}'>${body(features)}</query>`));
const verOf = (features: string[]) => caps1Ver(infoOf(features), 'sha-1')!;
const capsPresence = (ver: string, hash = 'sha-1') => `<presence><c xmlns='http://jabber.org/protocol/caps' hash='${hash}' node='${NODE}' ver='${ver}'/></presence>`;

const QUERY_RE = /<iq\b[^>]*>\s*<query\b[^>]*http:\/\/jabber\.org\/protocol\/disco#info[^>]*\/>\s*<\/iq>/;
interface Query { id: string; node: string; from: string }

/** The server's next disco#info query to this client. */
async function nextQuery(c: RawClient, timeoutMs = 5000): Promise<Query> {
  const m = (await c.expect(QUERY_RE, timeoutMs))[0];
  assert.match(m, /type=["']get["']/);
  const attr = (name: string) => new RegExp(`\\b${name}=["']([^"']*)["']`).exec(m)?.[1] ?? '';
  return { id: attr('id'), node: attr('node'), from: attr('from') };
}

const answer = (c: RawClient, host: string, q: Query, features: string[]) =>
  c.send(`<iq type='result' id='${q.id}' to='${host}'><query xmlns='${NS_DISCO_INFO}' node='${q.node}'>${body(features)}</query></iq>`);

const hasQuery = (c: RawClient) => QUERY_RE.test(c.buffer);

/** Wait until CAPS_SERVICE knows the features of `jid` on `host`. */
const known = (host: string, jid: Jid, what: string): Promise<ReadonlySet<string>> =>
  until(() => api(host).featuresOf(jid), what) as Promise<ReadonlySet<string>>;

test('a bad query_timeout is refused at boot with its YAML path', async () => {
  await assert.rejects(startTestServer({ modules: { caps: { query_timeout: 0 } } }), /modules\.caps\.query_timeout: must be at least 1/);
  await assert.rejects(startTestServer({ modules: { caps: { query_timeout: 'soon' } } }), /modules\.caps\.query_timeout: must be a number/);
});

forEachHost((host) => {
  const login = async (user: string, resource: string) => {
    const { c, jid } = await RawClient.login(t.c2sPort, user, `pw-${user}`, resource, { host, presence: false });
    return { c, jid: Jid.parse(jid) };
  };
  // Features differ per host so that each host's run starts with an empty cache for them (it is server-wide).
  const FEATURES = [NS_DISCO_INFO, 'http://jabber.org/protocol/caps', 'urn:xmpp:avatar:metadata+notify', `urn:example:${host}`];
  const VER = verOf(FEATURES);

  test('alice’s caps: the server asks disco#info on node#ver and verifies the hash; featuresOf, wantsNotify and caps_updated follow', async () => {
    const misses = await lookups(host, 'miss');
    const a = await login('alice', 'laptop');
    assert.equal(api(host).featuresOf(a.jid), undefined);
    a.c.send(capsPresence(VER));
    const q = await nextQuery(a.c);
    assert.equal(q.node, `${NODE}#${VER}`, 'XEP-0115 §6.2: the node is node#ver');
    assert.equal(q.from, host);
    assert.equal(api(host).featuresOf(a.jid), undefined, 'unknown until verified');
    answer(a.c, host, q, FEATURES);
    const f = await known(host, a.jid, 'alice’s features are known');
    assert.deepEqual([...f].sort(), [...FEATURES].sort());
    assert.equal(api(host).wantsNotify(a.jid, 'urn:xmpp:avatar:metadata'), true);
    assert.equal(api(host).wantsNotify(a.jid, 'http://jabber.org/protocol/tune'), false);
    const other = HOSTS.find((h) => h !== host)!;
    assert.equal(api(other).featuresOf(a.jid), f, 'the other host’s CAPS_SERVICE answers for this host’s clients');
    assert.equal(await lookups(host, 'miss'), misses + 1);
    await until(() => updates.some((u) => u.host === host && u.jid === a.jid.toString()), 'caps_updated ran for alice');
    assert.deepEqual(updates.filter((u) => u.jid === a.jid.toString()).map((u) => u.features), [[...FEATURES].sort()]);
    // the same caps again (every presence repeats them): no query, no second caps_updated
    a.c.send(`<presence><show>away</show><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='${NODE}' ver='${VER}'/></presence>`);
    await a.c.iq('p1', `<iq type='get' id='p1' to='${host}'><ping xmlns='urn:xmpp:ping'/></iq>`);
    assert.ok(!hasQuery(a.c));
    assert.equal(updates.filter((u) => u.jid === a.jid.toString()).length, 1);
    a.c.close();
  });

  test('bob with the same caps: answered from the verified cache, no query', async () => {
    const hits = await lookups(host, 'hit');
    const b = await login('bob', 'desk');
    b.c.send(capsPresence(VER));
    // bob never answers anything: his features can only come from the cache
    const f = await known(host, b.jid, 'bob’s features are known');
    assert.deepEqual([...f].sort(), [...FEATURES].sort());
    assert.equal(await lookups(host, 'hit'), hits + 1);
    assert.ok(!hasQuery(b.c), 'no disco#info query reached bob');
    b.c.close();
  });

  test('two clients with new caps at once: one query between them, and both learn the answer', async () => {
    const features = [...FEATURES, 'urn:example:twins'];
    const ver = verOf(features);
    const a = await login('alice', 'twin');
    const b = await login('bob', 'twin');
    a.c.send(capsPresence(ver));
    b.c.send(capsPresence(ver));
    await until(() => hasQuery(a.c) || hasQuery(b.c), 'a query to one of them');
    const [asked, other] = hasQuery(a.c) ? [a, b] : [b, a];
    answer(asked.c, host, await nextQuery(asked.c), features);
    await until(() => api(host).featuresOf(a.jid) && api(host).featuresOf(b.jid), 'both know the features');
    assert.ok(!hasQuery(other.c), 'the second client was not asked');
    a.c.close();
    b.c.close();
  });

  test('a client answering features that do not match its hash: its answer is used for its own session only, never cached; the next client is asked and proves it', async () => {
    const features = [...FEATURES, 'urn:example:honest'];
    const ver = verOf(features);
    const forged = [...features, 'urn:example:evil', 'urn:xmpp:avatar:data+notify'];
    const failures = await lookups(host, 'verification_failure');
    const m = await login('carol', 'mallory');
    m.c.send(capsPresence(ver));
    answer(m.c, host, await nextQuery(m.c), forged);
    await until(async () => (await lookups(host, 'verification_failure')) === failures + 1, 'the mismatch is counted');
    // its own session: its answer, as with legacy caps (slixmpp 1.8.3 announces a stale 'ver'; Prosody does this)
    const own = await known(host, m.jid, 'the mismatching answer is used for its own session');
    assert.deepEqual([...own].sort(), [...forged].sort());
    assert.equal(api(host).wantsNotify(m.jid, 'urn:xmpp:avatar:data'), true);
    await until(() => updates.some((u) => u.jid === m.jid.toString()), 'caps_updated ran for that session');
    assert.deepEqual(updates.filter((u) => u.jid === m.jid.toString()).map((u) => u.features), [[...forged].sort()]);
    assert.equal(await t.server.core.store.table('caps_cache').get(`caps1/sha-1/${ver}`), undefined, 'not cached');

    // bob claims the same ver: asked again (nothing shared from carol's answer), and his verified answer is his
    const b = await login('bob', 'honest');
    b.c.send(capsPresence(ver));
    const q = await nextQuery(b.c);
    assert.equal(api(host).featuresOf(b.jid), undefined, 'carol’s answer is not bob’s');
    answer(b.c, host, q, features);
    const f = await known(host, b.jid, 'bob’s features are known');
    assert.deepEqual([...f].sort(), [...features].sort());
    assert.equal(api(host).wantsNotify(b.jid, 'urn:xmpp:avatar:data'), false);
    assert.ok(await t.server.core.store.table('caps_cache').get(`caps1/sha-1/${ver}`), 'cached once verified');
    assert.deepEqual([...api(host).featuresOf(m.jid)!].sort(), [...forged].sort(), 'carol’s session keeps its own answer');

    // an answer that §5.4 calls ill-formed (a duplicate feature) and so cannot verify: same rule
    const dup = [...FEATURES, 'urn:example:dup'];
    const d = await login('alice', 'duplicate');
    d.c.send(capsPresence(verOf(dup)));
    answer(d.c, host, await nextQuery(d.c), [...dup, 'urn:example:dup']);
    assert.deepEqual([...(await known(host, d.jid, 'the ill-formed answer is used for its own session'))].sort(), [...dup].sort());
    assert.equal(await lookups(host, 'verification_failure'), failures + 2);
    assert.equal(await t.server.core.store.table('caps_cache').get(`caps1/sha-1/${verOf(dup)}`), undefined, 'not cached');
    for (const x of [m, b, d]) x.c.close();
  });

  test('two clients with new caps at once, the asked one answering features that do not match: the other is asked itself and never gets them', async () => {
    const features = [...FEATURES, 'urn:example:twins-forged'];
    const ver = verOf(features);
    const forged = [...features, 'urn:example:evil-twin'];
    const a = await login('alice', 'twin-forged');
    const b = await login('bob', 'twin-forged');
    a.c.send(capsPresence(ver));
    b.c.send(capsPresence(ver));
    await until(() => hasQuery(a.c) || hasQuery(b.c), 'a query to one of them');
    const [asked, other] = hasQuery(a.c) ? [a, b] : [b, a];
    answer(asked.c, host, await nextQuery(asked.c), forged);
    assert.ok((await known(host, asked.jid, 'the asked client has its own answer')).has('urn:example:evil-twin'));
    const q = await nextQuery(other.c); // waited on the same hash, got nothing verified: asked in turn
    assert.equal(api(host).featuresOf(other.jid), undefined, 'the first answer is not given to the other client');
    answer(other.c, host, q, features);
    assert.ok(!(await known(host, other.jid, 'the other client’s verified features')).has('urn:example:evil-twin'));
    assert.ok(await t.server.core.store.table('caps_cache').get(`caps1/sha-1/${ver}`), 'cached from the answer that verified');
    a.c.close();
    b.c.close();
  });

  test('XEP-0390: a hash set is asked for on urn:xmpp:caps#algo.hash and verified', async () => {
    const features = [...FEATURES, 'urn:example:ecaps2'];
    const hash = caps2Hash(infoOf(features), 'sha-256')!;
    const a = await login('alice', 'ecaps2');
    a.c.send(`<presence><c xmlns='urn:xmpp:caps'><hash xmlns='urn:xmpp:hashes:2' algo='sha-256'>${hash}</hash><hash xmlns='urn:xmpp:hashes:2' algo='unknown-1'>AAAA</hash></c></presence>`);
    const q = await nextQuery(a.c);
    assert.equal(q.node, `urn:xmpp:caps#sha-256.${hash}`);
    answer(a.c, host, q, features);
    const f = await known(host, a.jid, 'features are known');
    assert.ok(f.has('urn:example:ecaps2'));
    assert.ok(await t.server.core.store.table('caps_cache').get(`caps2/sha-256/${hash}`));
    a.c.close();
  });

  test('legacy caps without a hash: asked and used for that session only, never cached', async () => {
    const legacy = `<presence><c xmlns='http://jabber.org/protocol/caps' node='${NODE}' ver='1.0-${host}'/></presence>`;
    const a = await login('alice', 'legacy');
    a.c.send(legacy);
    const q = await nextQuery(a.c);
    assert.equal(q.node, `${NODE}#1.0-${host}`);
    answer(a.c, host, q, ['urn:example:legacy']);
    assert.deepEqual([...(await known(host, a.jid, 'alice’s legacy features'))], ['urn:example:legacy']);
    const b = await login('bob', 'legacy');
    b.c.send(legacy);
    const q2 = await nextQuery(b.c); // not taken from alice's answer
    answer(b.c, host, q2, ['urn:example:other']);
    assert.deepEqual([...(await known(host, b.jid, 'bob’s legacy features'))], ['urn:example:other']);
    a.c.close();
    b.c.close();
  });

  test('unavailable presence and a disconnect forget the session’s caps; available again finds them in the cache', async () => {
    const a = await login('alice', 'comes-and-goes');
    a.c.send(capsPresence(VER));
    await known(host, a.jid, 'features known');
    a.c.send("<presence type='unavailable'/>");
    await until(() => api(host).featuresOf(a.jid) === undefined, 'forgotten after unavailable');
    a.c.send(capsPresence(VER));
    await known(host, a.jid, 'known again');
    a.c.close();
    await until(() => api(host).featuresOf(a.jid) === undefined, 'forgotten after the disconnect');
  });

  test('query_timeout: a client that never answers leaves its caps unknown (query_failure)', async () => {
    const failures = await lookups(host, 'query_failure');
    const a = await login('alice', 'silent');
    a.c.send(capsPresence(verOf([...FEATURES, 'urn:example:silent'])));
    await nextQuery(a.c);
    await until(async () => (await lookups(host, 'query_failure')) === failures + 1, 'the query timed out', 5000);
    assert.equal(api(host).featuresOf(a.jid), undefined);
    a.c.close();
  });

  test('at most two queries per session at once; the latest caps are asked for when a slot frees', async () => {
    const sets = [1, 2, 3].map((i) => [...FEATURES, `urn:example:busy-${i}`]);
    const a = await login('alice', 'busy');
    for (const s of sets) a.c.send(capsPresence(verOf(s)));
    const q1 = await nextQuery(a.c);
    const q2 = await nextQuery(a.c);
    assert.deepEqual([q1.node, q2.node], [`${NODE}#${verOf(sets[0]!)}`, `${NODE}#${verOf(sets[1]!)}`]);
    await a.c.iq('p2', `<iq type='get' id='p2' to='${host}'><ping xmlns='urn:xmpp:ping'/></iq>`);
    assert.ok(!hasQuery(a.c), 'the third waits for a slot');
    answer(a.c, host, q1, sets[0]!);
    const q3 = await nextQuery(a.c);
    assert.equal(q3.node, `${NODE}#${verOf(sets[2]!)}`, 'the current claim goes next');
    answer(a.c, host, q3, sets[2]!);
    const f = await known(host, a.jid, 'the latest features');
    assert.ok(f.has('urn:example:busy-3'));
    await until(() => updates.some((u) => u.jid === a.jid.toString() && u.features.includes('urn:example:busy-3')), 'caps_updated with the changed features');
    answer(a.c, host, q2, sets[1]!); // a late answer for an older claim does not replace the current one
    await a.c.iq('p3', `<iq type='get' id='p3' to='${host}'><ping xmlns='urn:xmpp:ping'/></iq>`);
    assert.ok(api(host).featuresOf(a.jid)!.has('urn:example:busy-3'));
    a.c.close();
  });

  test('XEP-0115 §6.3: the server’s caps are in the stream features, and disco#info on node#ver matches the hash', async () => {
    const c = await RawClient.secured(t.c2sPort, { host });
    assert.ok((await c.authScram('SCRAM-SHA-256', 'alice', 'pw-alice')).startsWith('<success'));
    c.openStream(host);
    const features = await c.features();
    const m = /<c xmlns=["']http:\/\/jabber\.org\/protocol\/caps["'][^>]*\/>/.exec(features);
    assert.ok(m, features);
    const attr = (name: string) => new RegExp(`\\b${name}=["']([^"']*)["']`).exec(m[0])![1]!;
    assert.equal(attr('hash'), 'sha-1');
    await c.bind('server-caps');
    const res = await c.iq('sc', `<iq type='get' id='sc' to='${host}'><query xmlns='${NS_DISCO_INFO}' node='${attr('node')}#${attr('ver')}'/></iq>`);
    const el = parseXml(res);
    assert.equal(el.attrs.type, 'result', res);
    const info = parseDiscoInfo(el.getChild('query', NS_DISCO_INFO)!);
    assert.ok(info.features.includes(NS_DISCO_INFO));
    assert.equal(caps1Ver(info, 'sha-1'), attr('ver'));
    const stale = await c.iq('sc2', `<iq type='get' id='sc2' to='${host}'><query xmlns='${NS_DISCO_INFO}' node='${attr('node')}#AAAA'/></iq>`);
    assert.match(stale, /item-not-found/);
    c.close();
  });

  test('loaded at runtime, caps follows the clients already online from their last presence', async () => {
    const features = [...FEATURES, 'urn:example:early'];
    await t.server.modules.unload('caps');
    const a = await login('alice', 'early');
    a.c.send(capsPresence(verOf(features)));
    await a.c.iq('p4', `<iq type='get' id='p4' to='${host}'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await t.server.modules.load('caps', CONFIG.modules.caps);
    const q = await nextQuery(a.c);
    assert.equal(q.node, `${NODE}#${verOf(features)}`);
    answer(a.c, host, q, features);
    assert.ok((await known(host, a.jid, 'features of the client that was online first')).has('urn:example:early'));
    a.c.close();
  });

  test('verified caps survive a server restart: a re-login needs no query', async () => {
    await t.stop();
    await start();
    const b = await login('bob', 'after-restart');
    b.c.send(capsPresence(VER));
    const f = await known(host, b.jid, 'features from the stored cache');
    assert.deepEqual([...f].sort(), [...FEATURES].sort());
    assert.ok(!hasQuery(b.c));
    assert.equal(await lookups(host, 'hit'), 1);
    b.c.close();
  });
});
