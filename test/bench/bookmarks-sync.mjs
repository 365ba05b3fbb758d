#!/usr/bin/env node
// Bookmarks conversion cost over real sockets (XEP-0402 <-> XEP-0048): a private XML set of N rooms (new, then
// unchanged, then one room renamed) and a private XML get (answered from the XEP-0402 items), with the PEP
// publishes (pep_item_published) each step caused. Private XML alone (no pep, no bookmarks) for reference.
// Usage: node test/bench/bookmarks-sync.mjs [rooms=50] [reps=20]. Build first (npx tsc -p tsconfig.json); times on a shared machine are indicative.
const dist = new URL('../../dist/', import.meta.url);
const { startTestServer } = await import(new URL('test/support/harness.js', dist));
const { RawClient } = await import(new URL('test/support/raw-client.js', dist));

const N = Number(process.argv[2] ?? 50);
const REPS = Number(process.argv[3] ?? 20);
const list = (suffix) => `<storage xmlns='storage:bookmarks'>${Array.from({ length: N }, (_, i) =>
  `<conference jid='room${i}@conference.localhost' name='Room ${i}${i === 0 ? suffix : ''}' autojoin='true'><nick>me</nick></conference>`).join('')}</storage>`;
let id = 0;
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

async function run(label, modules) {
  // No c2s shaper (limits.c2s.bytes_per_second, 100 kB/s by default): the lists are large, the server is measured.
  const t = await startTestServer({ modules, limits: { c2s: { bytes_per_second: 0 } } });
  const publishes = [];
  t.server.core.hooks.on('pep_item_published', ({ node }) => publishes.push(node), 50, 'bench', 'localhost');
  try {
    await t.addUser('alice', 'pw-alice');
    const { c } = await RawClient.login(t.c2sPort, 'alice', 'pw-alice', 'bench');
    c.socket.setNoDelay(true); // as the server's side: no Nagle delay on back-to-back requests
    const set = async (storage) => { const i = `s${++id}`; await c.iq(i, `<iq type='set' id='${i}'><query xmlns='jabber:iq:private'>${storage}</query></iq>`); };
    const get = async () => { const i = `g${++id}`; await c.iq(i, `<iq type='get' id='${i}'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>`); };
    const step = async (name, fn) => {
      const times = [];
      let count = 0;
      for (let r = 0; r < REPS; r++) {
        await fn(r, 'warm');
        publishes.length = 0;
        const t0 = process.hrtime.bigint();
        await fn(r, 'measure');
        times.push(ms(t0));
        await get(); // waits behind the conversions the notifications queued
        count += publishes.length;
      }
      console.log(`${label.padEnd(26)} ${name.padEnd(34)} median ${median(times).toFixed(2).padStart(7)} ms   PEP publishes/op ${(count / REPS).toFixed(1)}`);
    };
    await step(`private set, ${N} new rooms`, async (r, phase) => {
      if (phase === 'warm') await set("<storage xmlns='storage:bookmarks'/>");
      else await set(list(''));
    });
    await step(`private set, ${N} unchanged`, async (_r, phase) => { if (phase === 'measure') await set(list('')); });
    await step(`private set, 1 of ${N} renamed`, async (r, phase) => { await set(list(phase === 'warm' ? '' : ` v${r}`)); });
    await step(`private get, ${N} rooms`, async (_r, phase) => { if (phase === 'measure') await get(); });
    c.close();
  } finally {
    await t.stop();
  }
}

await run('private only', { disco: {}, roster: {}, private: {} });
await run('pep + bookmarks', { disco: {}, roster: {}, private: {}, pep: {}, bookmarks: {} });
