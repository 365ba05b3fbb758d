#!/usr/bin/env node
// Creates the benchmark accounts u0..u{N-1} (password 'benchpass') directly in an xmppd data dir, in one
// process, with N accounts created concurrently (PBKDF2 runs on the libuv thread pool). The server must NOT
// be running on that data dir (LevelDB lock). Uses the compiled code in dist/ (npm run build first).
//   node test/bench/provision.mjs --data-dir DIR --domain bench.local --users 10000 [--password benchpass]
//        [--iterations 4096] [--concurrency 16]
// With --nats URL --cluster-name NAME: through a cluster replica (node "provision", replicas 1) into that cluster's
// replicated log, so that every node of the cluster has the accounts (the data dir is this replica's own).
import { join, resolve, dirname } from 'node:path';
import { mkdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const A = {};
for (let i = 2; i < process.argv.length; i += 2) A[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const dataDir = A['data-dir'];
if (!dataDir) { console.error('usage: provision.mjs --data-dir DIR [--domain D] [--users N] [--iterations I] [--concurrency C]'); process.exit(2); }
const domain = A.domain ?? 'bench.local';
const users = Number(A.users ?? 10000);
const password = A.password ?? 'benchpass';
const iterations = Number(A.iterations ?? 4096);
const conc = Number(A.concurrency ?? 16);

const dist = (p) => import(pathToFileURL(join(REPO, 'dist', p)).href);
const { openStore } = await dist('src/data/index.js');
const { Accounts, AccountExistsError } = await dist('src/core/accounts.js');
const { HookRunner } = await dist('src/core/hooks/hook-runner.js');
const { Logger } = await dist('src/core/log.js');
const { Jid } = await dist('src/core/jid.js');

mkdirSync(dataDir, { recursive: true, mode: 0o700 });
const log = new Logger('warn');
let store, nc;
if (A.nats) {
  const { openReplica } = await dist('src/data/cluster/replica.js');
  const { connectNats } = await dist('src/data/cluster/nats-connect.js');
  const { buildConfig } = await dist('src/core/config/load-config.js');
  const cluster = buildConfig({ cluster: { node: 'provision', name: A['cluster-name'] ?? 'xmppd', nats: [A.nats], replicas: 1 } }).cluster;
  nc = await connectNats(cluster);
  store = (await openReplica(join(dataDir, 'db'), { nc, config: cluster, log: { info() {}, warn() {}, error: (m, f) => console.error(m, f ?? '') } })).store;
} else {
  store = await openStore(join(dataDir, 'db'));
}
const accounts = new Accounts(store, new HookRunner(log), iterations);
const t0 = performance.now();
let next = 0, created = 0, existed = 0, failed = 0;
async function worker() {
  for (let i; (i = next++) < users;) {
    try {
      await accounts.create(Jid.parse(`u${i}@${domain}`), password);
      created++;
    } catch (err) {
      if (err instanceof AccountExistsError) existed++;
      else if (failed++ < 3) console.error(`u${i}: ${err?.stack ?? err}`);
    }
    if ((i + 1) % 2000 === 0) console.error(`[provision] ${i + 1}/${users}`);
  }
}
try {
  await Promise.all(Array.from({ length: conc }, worker));
} finally {
  await store.close();
  await nc?.close();
}
const elapsed = (performance.now() - t0) / 1000;
console.log(JSON.stringify({ method: 'direct', users, created, existed, failed, iterations, elapsed_s: +elapsed.toFixed(2), rate_per_s: +(users / elapsed).toFixed(1) }));
process.exit(failed ? 1 : 0);
