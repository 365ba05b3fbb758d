#!/usr/bin/env node
// Login cost over real sockets (STARTTLS already done, so only authentication and binding are timed): classic
// SCRAM-SHA-256 + stream restart + bind IQ, SASL2 SCRAM-SHA-256 with Bind2, and a FAST token login
// (HT-SHA-256-NONE) with Bind2. Prints the median and p90 per login over N logins of each kind.
// Build first (npx tsc -p tsconfig.json); timings on a shared machine are indicative only.
const dist = new URL('../../dist/', import.meta.url);
const { startTestServer } = await import(new URL('test/support/harness.js', dist));
const { RawClient } = await import(new URL('test/support/raw-client.js', dist));
const { sasl2Scram, sasl2Token } = await import(new URL('test/support/sasl2-client.js', dist));

const N = Number(process.argv[2] ?? 200);
const BIND2 = "<bind xmlns='urn:xmpp:bind:0'><tag>bench</tag></bind>";
const agentId = 'bench-0000-4000-8000-000000000000';

const t = await startTestServer({ modules: { disco: {}, ping: {}, roster: {}, presence: {} } });
const pct = (xs, p) => xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
try {
  await t.addUser('alice', 'pw-alice');
  const first = await RawClient.secured(t.c2sPort);
  const ok = await sasl2Scram(first, 'SCRAM-SHA-256', 'alice', 'pw-alice', { agentId, inline: "<request-token xmlns='urn:xmpp:fast:0' mechanism='HT-SHA-256-NONE'/>" });
  const token = /token=["']([^"']+)["']/.exec(ok)[1];
  first.close();
  const kinds = {
    'classic SCRAM-SHA-256 + restart + bind': async (c) => {
      await c.authScram('SCRAM-SHA-256', 'alice', 'pw-alice');
      c.openStream();
      await c.features();
      await c.bind();
    },
    'SASL2 SCRAM-SHA-256 + Bind2': (c) => sasl2Scram(c, 'SCRAM-SHA-256', 'alice', 'pw-alice', { inline: BIND2 }),
    'FAST HT-SHA-256-NONE + Bind2': (c) => sasl2Token(c, 'alice', token, { agentId, inline: BIND2 }),
  };
  for (const [label, login] of Object.entries(kinds)) {
    const ms = [];
    for (let i = 0; i < N; i++) {
      const c = await RawClient.secured(t.c2sPort);
      const start = performance.now();
      await login(c);
      ms.push(performance.now() - start);
      c.close();
    }
    console.log(`${label}: median ${pct(ms, 0.5).toFixed(2)} ms, p90 ${pct(ms, 0.9).toFixed(2)} ms (${N} logins)`);
  }
} finally {
  await t.stop();
}
