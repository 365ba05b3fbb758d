// The HTTP listener: Prometheus /metrics scraped and parsed, and the REST admin API (bearer token,
// JSON, clear 4xx errors) over the same command registry as the CLI.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startTestServer, type TestServer } from '../support/harness.js';
import { RawClient } from '../support/raw-client.js';
import { buildConfig } from '../../src/core/config/load-config.js';
import { Logger } from '../../src/core/log.js';

const TOKEN = 'a-long-random-admin-token-for-the-tests-0123456789';
let t: TestServer;
let base: string;
const logLines: string[] = [];

before(async () => {
  t = await startTestServer({
    api_tokens: [`sha256:${createHash('sha256').update(TOKEN).digest('hex')}`],
    listen: [
      { port: 0, ip: '127.0.0.1', type: 'c2s' },
      { port: 0, ip: '127.0.0.1', type: 'http' },
    ],
  }, { log: new Logger('info', {}, (line) => logLines.push(line), false) });
  base = `http://127.0.0.1:${t.server.port('http')}`;
  await t.addUser('alice', 'alice-password');
});
after(() => t.stop());

const api = (path: string, init: RequestInit & { token?: string | null } = {}) => {
  const headers: Record<string, string> = { ...(init.headers as Record<string, string>) };
  if (init.token !== null) headers.authorization = `Bearer ${init.token ?? TOKEN}`;
  return fetch(`${base}/api/${path}`, { ...init, headers });
};
const post = (cmd: string, body: unknown, token?: string | null) =>
  api(cmd, { method: 'POST', token, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** Prometheus text format: sample name{labels} -> value. */
function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    assert.ok(m, `a valid exposition line: ${line}`);
    out.set(m[1]!, Number(m[2]));
  }
  return out;
}

test('/metrics is scraped and parsed: connections, auth by mechanism, stanzas, hooks, storage', async () => {
  const { c } = await RawClient.login(t.c2sPort, 'alice', 'alice-password', 'm');
  c.send("<iq to='localhost' type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>");
  await c.expect(/id=["']p["']/);
  const res = await fetch(`${base}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  const m = parseMetrics(await res.text());
  assert.equal(m.get('xmppd_connections{type="c2s"}'), 1);
  assert.ok((m.get('xmppd_auth_success_total{mechanism="SCRAM-SHA-256"}') ?? 0) >= 1);
  assert.ok((m.get('xmppd_stanzas_in_total{kind="iq"}') ?? 0) >= 1);
  assert.ok((m.get('xmppd_stanzas_routed_total') ?? 0) >= 1);
  assert.ok((m.get('xmppd_storage_transaction_seconds_count') ?? 0) >= 1, 'account creation was a timed transaction');
  assert.ok([...m.keys()].some((k) => k.startsWith('xmppd_hook_seconds_count{hook=')), 'hook chain time is exported');
  c.close();
  assert.equal((await fetch(`${base}/metrics`, { method: 'POST' })).status, 405);
});

test('the REST API refuses missing and wrong tokens with 401', async () => {
  const none = await api('status', { method: 'POST', token: null });
  assert.equal(none.status, 401);
  assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
  assert.equal((await post('status', {}, 'wrong-token')).status, 401);
});

test('the REST API runs registry commands and answers JSON', async () => {
  const list = await api('');
  assert.equal(list.status, 200);
  const names = ((await list.json()) as { commands: Array<{ name: string }> }).commands.map((c) => c.name);
  assert.ok(names.includes('user.add') && names.includes('status'));

  const add = await post('user.add', { jid: 'bob@localhost', password: 'bob-password-1' });
  assert.equal(add.status, 200);
  assert.deepEqual(await add.json(), { ok: true, result: { created: 'bob@localhost' } });
  const users = await post('user.list', { host: 'localhost' });
  assert.deepEqual(((await users.json()) as { result: { users: string[] } }).result.users, ['alice@localhost', 'bob@localhost']);
  const { c } = await RawClient.login(t.c2sPort, 'bob', 'bob-password-1', 'r');
  c.close();
  const status = (await (await post('status', {})).json()) as { result: { hosts: string[]; listeners: unknown[] } };
  assert.deepEqual(status.result.hosts, ['localhost', 'example.test']);
  assert.ok(Array.isArray(status.result.listeners), 'the live admin target (listeners) is behind the API');
});

test('clear 4xx errors: bad JSON, wrong type, missing arguments, unknown command, conflict, not found, wrong method', async () => {
  const badJson = await api('user.add', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"jid": ' });
  assert.equal(badJson.status, 400);
  assert.match(((await badJson.json()) as { error: string }).error, /not valid JSON/);
  const notObject = await post('user.add', ['bob@localhost']);
  assert.equal(notObject.status, 400);
  const wrongType = await api('user.add', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
  assert.equal(wrongType.status, 415);
  const missing = await post('user.add', { jid: 'carol@localhost' });
  assert.equal(missing.status, 400);
  assert.match(((await missing.json()) as { error: string }).error, /missing argument\(s\): password/);
  assert.equal((await post('no.such.command', {})).status, 404);
  assert.equal((await post('user.add', { jid: 'alice@localhost', password: 'whatever-pw' })).status, 409);
  assert.equal((await post('user.del', { jid: 'nobody@localhost' })).status, 404);
  const badJid = await post('user.add', { jid: 'not a jid', password: 'whatever-pw' });
  assert.equal(badJid.status, 400);
  assert.match(((await badJid.json()) as { error: string }).error, /not a valid JID/);
  assert.equal((await api('status', { method: 'GET' })).status, 405);
  assert.equal((await fetch(`${base}/nowhere`)).status, 404);
});

test('module.load with a bad or unknown name answers 4xx with a clear message, and logs no error or stack', async () => {
  const from = logLines.length;
  const bad = await post('module.load', { name: '../../etc/evil' });
  assert.equal(bad.status, 400);
  assert.match(((await bad.json()) as { error: string }).error, /"\.\.\/\.\.\/etc\/evil" is not a valid module name \(lowercase letters, digits, - and _\)/);
  const unknown = await post('module.load', { name: 'nosuchmodule' });
  assert.equal(unknown.status, 404);
  assert.match(((await unknown.json()) as { error: string }).error, /no module named "nosuchmodule" among the bundled modules/);
  const reload = await post('module.reload', { name: 'Bad Name' });
  assert.equal(reload.status, 400);
  const logged = logLines.slice(from).join('\n');
  assert.doesNotMatch(logged, /"level":"error"|\bat .*\.js:\d+/, logged);
});

test('without api_tokens the API is disabled (403); short tokens are refused by the config', async () => {
  const t2 = await startTestServer({ listen: [{ port: 0, ip: '127.0.0.1', type: 'http' }] });
  try {
    const r = await fetch(`http://127.0.0.1:${t2.server.port('http')}/api/status`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(r.status, 403);
  } finally {
    await t2.stop();
  }
  assert.throws(() => buildConfig({ api_tokens: ['short'] }), /api_tokens\[0\]: a token must have at least 32 characters/);
  assert.throws(() => buildConfig({ api_tokens: ['sha256:abc'] }), /api_tokens\[0\]: a 'sha256:' token needs 64 hex digits/);
});
