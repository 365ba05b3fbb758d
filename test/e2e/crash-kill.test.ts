// Crash safety end to end: traffic to a real xmppd in a child process, SIGKILL at a random moment,
// restart on the same data dir, several rounds. Everything the server acknowledged must be there
// exactly once: accounts whose XEP-0077 registration was answered with a result, and messages to an
// offline account that were followed on the same stream by an answered XEP-0199 ping (a stream's
// stanzas are processed in order and the offline store is written before the next one is handled).
// After each restart the recipient drains its XEP-0160 offline queue; its XEP-0313 archive is checked
// for duplicates at the end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { RawClient } from '../support/raw-client.js';
import { startCrashChild, type CrashChild } from '../support/crash-child.js';
import { expectIq, securedStream } from '../../modules/register/test-support.js';

const ROUNDS = 6;
const SENDERS = 3;
const PASSWORD = 'crash-test-pw';

type Child = CrashChild;


async function kill(child: Child): Promise<void> {
  child.proc.kill('SIGKILL');
  const [, signal] = await child.exited;
  assert.equal(signal, 'SIGKILL', `the server should die by SIGKILL: ${child.stderr()}`);
}

/** What the server acknowledged, and what was sent without an acknowledgement (may or may not be stored). */
interface Ledger { accounts: Set<string>; acked: Set<string>; unacked: Set<string>; errors: string[]; onAck: (kind: 'account' | 'message') => void }

/** Opens a stream, trying again (a slow, loaded machine may time a step out) until the server is killed. */
async function connected(open: () => Promise<{ c: RawClient }>, stop: { now: boolean }): Promise<RawClient | null> {
  while (!stop.now) {
    try {
      return (await open()).c;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return null;
}

/** Registers accounts in-band one after another until the connection dies; a result = acknowledged. */
async function registrar(port: number, tag: string, ledger: Ledger, stop: { now: boolean }): Promise<void> {
  const c = await connected(() => securedStream(port), stop);
  if (c === null) return;
  for (let i = 0; !stop.now; i++) {
    const user = `${tag}-${i}`;
    let answer: string;
    try {
      c.send(`<iq type='set' id='r${i}'><query xmlns='jabber:iq:register'><username>${user}</username><password>${PASSWORD}</password></query></iq>`);
      answer = await expectIq(c, `r${i}`, 10_000);
    } catch {
      break; // the server died: this registration is unacknowledged
    }
    if (/type=["']result["']/.test(answer)) {
      ledger.accounts.add(user);
      ledger.onAck('account');
    }
    else ledger.errors.push(`registration of ${user}: ${answer}`);
  }
  c.close();
}

/** Sends messages to the offline recipient, a ping after every few; the ping's answer acknowledges them. */
async function sender(port: number, user: string, tag: string, ledger: Ledger, stop: { now: boolean }): Promise<void> {
  const c = await connected(() => RawClient.login(port, user, PASSWORD, 'crash', { presence: false }), stop);
  if (c === null) return;
  for (let i = 0; !stop.now; i++) {
    const bodies = [0, 1, 2].map((k) => `${tag}-${i}-${k}`);
    for (const b of bodies) {
      ledger.unacked.add(b);
      c.send(`<message to='rcpt@localhost' type='chat' id='${b}'><body>${b}</body></message>`);
    }
    let before: string;
    try {
      c.send(`<iq type='get' id='p${i}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
      const start = c.buffer;
      await expectIq(c, `p${i}`, 10_000);
      before = start;
    } catch {
      break;
    }
    // Anything the server sent back before the pong (an error for one of the messages) is a failure.
    if (/<message[^>]*type=["']error["']/.test(before + c.buffer)) ledger.errors.push(`message error on ${tag}: ${before}`);
    for (const b of bodies) {
      ledger.unacked.delete(b);
      ledger.acked.add(b);
    }
    ledger.onAck('message');
  }
  c.close();
}

/** Logs the recipient in, collects its offline messages (delivered before the pong), logs out. */
async function drain(port: number): Promise<string[]> {
  const { c } = await RawClient.login(port, 'rcpt', PASSWORD, 'drain', { presence: false });
  // user_available (offline delivery) runs before the next stanza of the stream is handled.
  c.send('<presence/>');
  c.send("<iq type='get' id='drained' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
  const m = await c.expect(/^([\s\S]*?)<iq[^>]*id=["']drained["'][^>]*(?:\/>|>[\s\S]*?<\/iq>)/, 30_000);
  c.close();
  return [...m[1]!.matchAll(/<message[\s\S]*?<body>([^<]*)<\/body>[\s\S]*?<\/message>/g)].map((x) => x[1]!);
}

/** The recipient's whole MAM archive (one page: max_results is raised in the config). */
async function archiveBodies(port: number): Promise<string[]> {
  const { c } = await RawClient.login(port, 'rcpt', PASSWORD, 'mam', { presence: false });
  c.send("<iq type='set' id='mam'><query xmlns='urn:xmpp:mam:2' queryid='q'><set xmlns='http://jabber.org/protocol/rsm'><max>100000</max></set></query></iq>");
  const m = await c.expect(/^([\s\S]*?)<iq[^>]*id=["']mam["'][^>]*(?:\/>|>[\s\S]*?<\/iq>)/, 30_000);
  c.close();
  assert.match(m[0], /<fin[^>]*complete=["']true["']/, 'the archive came in one page');
  return [...m[1]!.matchAll(/<result[^>]*queryid=["']q["'][\s\S]*?<body>([^<]*)<\/body>/g)].map((x) => x[1]!);
}

test('SIGKILL at random moments during traffic: every acknowledged account and offline message survives exactly once', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'xmppd-crash-e2e-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const configFile = join(dir, 'xmppd.yaml');
  await writeFile(configFile, stringify({
    hosts: ['localhost'],
    data_dir: join(dir, 'data'),
    control_socket: join(dir, 'ctl.sock'),
    log_level: 'error',
    listen: [{ port: 0, ip: '127.0.0.1', type: 'c2s' }],
    modules: { disco: {}, ping: {}, roster: {}, presence: {}, offline: { max_messages: 1_000_000 }, register: {}, mam: { max_results: 100_000 } },
    acl: { loopback: { ip: ['127.0.0.0/8'] } },
    access_rules: { register: [{ allow: 'loopback' }, { deny: 'all' }] },
    // The ledger check re-registers every account over one unauthenticated stream, which the pre-auth
    // byte budget (tested in hardening-listeners) would rightly end after 64 KiB.
    limits: { registrations_per_ip_per_hour: 0, pre_auth_bytes: 0 },
  }));

  const ledger: Ledger = { accounts: new Set(), acked: new Set(), unacked: new Set(), errors: [], onAck: () => undefined };
  const received = new Map<string, number>();
  const note = (bodies: string[]) => { for (const b of bodies) received.set(b, (received.get(b) ?? 0) + 1); };

  let child = await startCrashChild(configFile);
  let current = child;
  t.after(() => { if (current.proc.exitCode === null && current.proc.signalCode === null) current.proc.kill('SIGKILL'); });
  // The recipient and the senders exist before the first crash.
  for (const u of ['rcpt', ...Array.from({ length: SENDERS }, (_, i) => `sender${i}`)]) {
    const { c } = await securedStream(child.port);
    c.send(`<iq type='set' id='reg'><query xmlns='jabber:iq:register'><username>${u}</username><password>${PASSWORD}</password></query></iq>`);
    assert.match(await expectIq(c, 'reg'), /type=["']result["']/);
    c.close();
  }

  const killedAfter: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const stop = { now: false };
    // The kill comes at a random moment once the traffic is flowing: an account and a message acknowledged.
    const flowing = new Promise<void>((resolve) => {
      const seen = new Set<string>();
      ledger.onAck = (kind) => {
        seen.add(kind);
        if (seen.size === 2) resolve();
      };
    });
    const traffic = Promise.all([
      registrar(child.port, `acct${round}a`, ledger, stop),
      registrar(child.port, `acct${round}b`, ledger, stop),
      ...Array.from({ length: SENDERS }, (_, i) => sender(child.port, `sender${i}`, `m${round}s${i}`, ledger, stop)),
    ]);
    await Promise.race([flowing, traffic.then(() => assert.fail(`round ${round}: the traffic ended before the kill: ${child.stderr()}`))]);
    const delay = Math.floor(Math.random() * 1000);
    killedAfter.push(delay);
    await new Promise((r) => setTimeout(r, delay));
    await kill(child);
    stop.now = true;
    await traffic;

    current = child = await startCrashChild(configFile);
    note(await drain(child.port));
    // Every acknowledged message has been received exactly once so far; nothing was received twice.
    for (const b of ledger.acked) assert.equal(received.get(b), 1, `round ${round}: acknowledged message ${b} received ${received.get(b) ?? 0} times`);
    for (const [b, n] of received) {
      assert.equal(n, 1, `round ${round}: ${b} received ${n} times`);
      assert.ok(ledger.acked.has(b) || ledger.unacked.has(b), `round ${round}: ${b} was never sent`);
    }
  }
  assert.deepEqual(ledger.errors, [], 'no write was refused during the traffic');
  assert.ok(ledger.acked.size > 0 && ledger.accounts.size > 0, `traffic was acknowledged (${ledger.acked.size} messages, ${ledger.accounts.size} accounts; kills after ${killedAfter.join(', ')} ms)`);

  // Every acknowledged account exists: registering it again is a conflict; a sample logs in.
  const { c } = await securedStream(child.port);
  let i = 0;
  for (const user of ledger.accounts) {
    c.send(`<iq type='set' id='again${i}'><query xmlns='jabber:iq:register'><username>${user}</username><password>x-${PASSWORD}</password></query></iq>`);
    assert.match(await expectIq(c, `again${i++}`), /<conflict/, `acknowledged account ${user} is missing`);
  }
  c.close();
  const sample = [...ledger.accounts].filter((_, k) => k % 25 === 0);
  for (const user of sample) {
    const { c: s } = await RawClient.login(child.port, user, PASSWORD, undefined, { presence: false });
    s.close();
  }

  // MAM: every acknowledged message archived for the recipient, none twice.
  const archived = await archiveBodies(child.port);
  const counts = new Map<string, number>();
  for (const b of archived) counts.set(b, (counts.get(b) ?? 0) + 1);
  for (const [b, n] of counts) assert.equal(n, 1, `archived ${n} times: ${b}`);
  for (const b of ledger.acked) assert.ok(counts.has(b), `acknowledged message ${b} is not in the archive`);
  t.diagnostic(`${ROUNDS} kills after ${killedAfter.join(', ')} ms; ${ledger.accounts.size} accounts and ${ledger.acked.size} messages acknowledged, ${ledger.unacked.size} unacknowledged`);
  await kill(child);
});
