#!/usr/bin/env node
// Memory peak and login latency while a XEP-0227 import runs (issue 8, finding 4). Runs on the compiled
// dist/ (build first: npx tsc -p tsconfig.json). One in-process server on loopback; the import runs through
// the admin command registry as the CLI's does; a client logs in (STARTTLS + SCRAM-SHA-256 + bind) in a loop
// meanwhile. Prints one JSON line per scenario:
//   node test/bench/import-load.mjs [--users 20000] [--text-mb 150]
// Scenarios: "idle" (login latency with nothing running), "import" (a realistic file: every user with SCRAM
// keys, a 20-item roster, a vCard, private data and 3 offline messages), "hostile-text" (one text node of
// --text-mb MiB, refused at import_limits.max_text_bytes).
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const dist = new URL('../../dist/', import.meta.url);
const { startTestServer } = await import(new URL('test/support/harness.js', dist));
const { RawClient } = await import(new URL('test/support/raw-client.js', dist));
const { runCommand } = await import(new URL('src/core/admin/commands.js', dist));

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const USERS = arg('users', 20000);
const TEXT_MB = arg('text-mb', 150);
const PIE = 'urn:xmpp:pie:0';

const t = await startTestServer({ listen: [{ port: 0, ip: '127.0.0.1', type: 'c2s' }] });
const dir = await mkdtemp(join(tmpdir(), 'xmppd-import-bench-'));
const target = { core: t.server.core, modules: t.server.modules };
const cli = { origin: 'cli' };

await t.addUser('prober', 'prober-password');
await t.addUser('template', 'bench-password');
// SCRAM keys of a known password, reused for every generated user (they can all log in with it)
await runCommand(target, 'data.export', { file: join(dir, 'template.xml') }, cli);
const templateXml = (await import('node:fs')).readFileSync(join(dir, 'template.xml'), 'utf8');
const scram = /<user name="template">((?:<scram-credentials[\s\S]*?<\/scram-credentials>)+)/.exec(templateXml)[1];

async function writeFile(path, fn) {
  const out = createWriteStream(path);
  const w = (s) => (out.write(s) ? undefined : once(out, 'drain'));
  await fn(w);
  out.end();
  await once(out, 'close');
  return (await stat(path)).size;
}

/** Login latencies (ms) in a loop until `stop()`; also the event-loop delay. */
function prober() {
  const lat = [];
  let running = true;
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  const loop = (async () => {
    let i = 0;
    while (running) {
      const t0 = performance.now();
      const { c } = await RawClient.login(t.c2sPort, 'prober', 'prober-password', `p${i++}`, { presence: false });
      lat.push(performance.now() - t0);
      c.close();
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return async () => {
    running = false;
    await loop;
    h.disable();
    lat.sort((a, b) => a - b);
    const q = (p) => Math.round(lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN);
    return { logins: lat.length, login_ms_p50: q(0.5), login_ms_p95: q(0.95), login_ms_max: Math.round(lat[lat.length - 1] ?? NaN), loop_delay_ms_max: Math.round(h.max / 1e6), loop_delay_ms_p99: Math.round(h.percentile(99) / 1e6) };
  };
}

/** Sample RSS every 50 ms. */
function rssSampler() {
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  return () => {
    clearInterval(timer);
    return { rss_mib_before: Math.round(base / 1048576), rss_mib_peak: Math.round(peak / 1048576) };
  };
}

async function scenario(name, work) {
  const stopProbe = prober();
  const stopRss = rssSampler();
  const t0 = performance.now();
  let outcome;
  try {
    outcome = await work();
  } catch (err) {
    outcome = { error: err.message.slice(0, 160) };
  }
  const seconds = Math.round((performance.now() - t0) / 100) / 10;
  console.log(JSON.stringify({ scenario: name, seconds, ...stopRss(), ...(await stopProbe()), ...outcome }));
}

await scenario('idle', () => new Promise((r) => setTimeout(() => r({}), 5000)));

const big = join(dir, 'big.xml');
const bytes = await writeFile(big, async (w) => {
  await w(`<?xml version='1.0'?>\n<server-data xmlns='${PIE}'><host jid='localhost'>\n`);
  for (let u = 0; u < USERS; u++) {
    let items = '';
    for (let i = 0; i < 20; i++) items += `<item jid='c${(u + i) % USERS}@example.net' subscription='both' name='Contact ${i}'><group>Friends</group></item>`;
    const msgs = [0, 1, 2].map((i) => `<message xmlns='jabber:client' from='c${i}@example.net/r' to='u${u}@localhost' type='chat'><body>hello ${i} from a contact</body><delay xmlns='urn:xmpp:delay' stamp='2024-01-0${i + 1}T00:00:00Z'/></message>`).join('');
    await w(`<user name='u${u}'>${scram}<query xmlns='jabber:iq:roster'>${items}</query>`
      + `<vCard xmlns='vcard-temp'><FN>User ${u}</FN><NICKNAME>u${u}</NICKNAME><DESC>${'about me '.repeat(40)}</DESC></vCard>`
      + `<query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'><conference jid='room${u % 50}@muc.example.net' autojoin='true'/></storage></query>`
      + `<offline-messages>${msgs}</offline-messages></user>\n`);
  }
  await w('</host></server-data>\n');
});
await scenario('import', async () => {
  const r = await runCommand(target, 'data.import', { file: big }, cli);
  return { file_mib: Math.round(bytes / 1048576), users: r.users, roster_items: r.rosterItems, offline: r.offlineMessages };
});

const hostile = join(dir, 'hostile.xml');
const hbytes = await writeFile(hostile, async (w) => {
  await w(`<server-data xmlns='${PIE}'><host jid='localhost'><user name='h'><vCard xmlns='vcard-temp'><DESC>`);
  const mib = 'x'.repeat(1048576);
  for (let i = 0; i < TEXT_MB; i++) await w(mib);
  await w('</DESC></vCard></user></host></server-data>');
});
await scenario('hostile-text', async () => {
  await runCommand(target, 'data.import', { file: hostile }, cli);
  return { file_mib: Math.round(hbytes / 1048576) };
});

await t.stop();
await rm(dir, { recursive: true, force: true });
