// Throughput of the XMPP stream parser alone (RFC 6120 §4 streams, §11 XML): N chat message stanzas fed as
// Buffers in realistic chunkings; prints ns per stanza (median of the reps) and bytes allocated per stanza
// (CPU time of the process, so a busy machine inflates it less than wall time).
//   node test/bench/parser-throughput.mjs [--dist DIR] [--stanzas 200000] [--reps 7] [--modes stanza,burst,mss,64k] [--no-alloc]
// --dist points at another build's dist/ (A/B against a copy of an older build).
import { Session } from 'node:inspector';
import { PerformanceObserver } from 'node:perf_hooks';
import { resolve, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  return i === -1 ? dflt : argv[i + 1];
};
const HERE = dirname(fileURLToPath(import.meta.url));
const DIST = resolve(opt('--dist', join(HERE, '../../dist')));
const N = Number(opt('--stanzas', 200000));
const REPS = Number(opt('--reps', 7));
const MODES = opt('--modes', 'stanza,burst,mss,64k').split(',');
const NO_ALLOC = argv.includes('--no-alloc'); // e.g. under valgrind --tool=callgrind, counting instructions

const { StreamParser } = await import(pathToFileURL(join(DIST, 'src/interface/xml/stream-parser.js')).href);

const HEADER = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' " +
  "to='bench.local' version='1.0' xml:lang='en'>";

/** What clients send most: the harness's message, and richer ones (chat states, receipts, an escaped body). */
function stanza(i) {
  switch (i % 4) {
    case 0:
    case 1:
      return `<message type='chat' to='u${i % 2000}@bench.local' id='m'><body>${i}:${1000000 + i}</body></message>`;
    case 2:
      return `<message xmlns='jabber:client' type='chat' to='u${i % 2000}@bench.local/r' id='a${i}x'>` +
        `<body>Hello there, how are you doing today? Message number ${i}.</body>` +
        `<active xmlns='http://jabber.org/protocol/chatstates'/><request xmlns='urn:xmpp:receipts'/>` +
        `<origin-id xmlns='urn:xmpp:sid:0' id='o-${i}'/></message>`;
    default:
      return `<message type="chat" to="u${i % 2000}@bench.local" id="q${i}"><body>a &lt;b&gt; &amp; &#233;t\u00e9 ☃ ${i}</body>` +
        `<thread>t${i % 97}</thread></message>\n`;
  }
}

/** The input as the parser would get it from the socket. */
function chunks(mode) {
  const out = [];
  if (mode === 'stanza') {
    for (let i = 0; i < N; i++) out.push(Buffer.from(stanza(i)));
  } else if (mode === 'burst') {
    // 1-5 stanzas per read, as the load generator's window of 5 outstanding messages produces.
    for (let i = 0; i < N; ) {
      const n = 1 + (i % 5);
      let s = '';
      for (let k = 0; k < n && i < N; k++, i++) s += stanza(i);
      out.push(Buffer.from(s));
    }
  } else {
    const size = mode === 'mss' ? 1448 : 65536;
    const parts = [];
    for (let i = 0; i < N; i++) parts.push(stanza(i));
    const all = Buffer.from(parts.join(''));
    for (let o = 0; o < all.length; o += size) out.push(all.subarray(o, o + size));
  }
  return out;
}

function run(input) {
  let count = 0;
  let failed = null;
  const p = new StreamParser({
    streamStart() {},
    stanza() { count++; },
    streamEnd() {},
    error(c, t) { failed = `${c}: ${t}`; },
  });
  p.write(HEADER);
  for (let k = 0; k < input.length; k++) p.write(input[k]);
  if (failed || count !== N) throw new Error(`parser reported ${failed ?? `${count} of ${N} stanzas`}`);
}

/** Bytes allocated during one run, from V8's sampling heap profiler (collected objects included). */
async function allocated(input) {
  const s = new Session();
  s.connect();
  const post = (m, p) => new Promise((res, rej) => s.post(m, p, (e, r) => (e ? rej(e) : res(r))));
  await post('HeapProfiler.startSampling', {
    samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true,
  });
  run(input);
  const { profile } = await post('HeapProfiler.stopSampling');
  s.disconnect();
  let total = 0;
  const walk = (n) => {
    total += n.selfSize;
    for (const c of n.children) walk(c);
  };
  walk(profile.head);
  return total;
}

let gcs = { minor: 0, major: 0 };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    if (e.detail?.kind === 1) gcs.minor++;
    else gcs.major++;
  }
}).observe({ entryTypes: ['gc'] });

const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
console.log(`parser: ${DIST}  stanzas: ${N}  reps: ${REPS}`);
for (const mode of MODES) {
  const input = chunks(mode);
  const bytes = input.reduce((n, b) => n + b.length, 0);
  run(input); // warm-up
  const ns = [];
  const g0 = { ...gcs };
  for (let r = 0; r < REPS; r++) {
    // CPU time, not wall time: on a shared machine the wait for a core is not the parser's.
    const t0 = process.cpuUsage();
    run(input);
    const t = process.cpuUsage(t0);
    ns.push(((t.user + t.system) * 1000) / N);
  }
  await new Promise((r) => setTimeout(r, 100)); // let the gc entries arrive
  const minor = (gcs.minor - g0.minor) / REPS;
  const alloc = NO_ALLOC ? NaN : await allocated(input);
  console.log(
    `${mode.padEnd(7)} chunks=${String(input.length).padStart(7)} avg_chunk=${String(Math.round(bytes / input.length)).padStart(6)}B` +
    `  ns/stanza median=${median(ns).toFixed(0)} min=${Math.min(...ns).toFixed(0)}` +
    `  alloc≈${(alloc / N).toFixed(0)} B/stanza  scavenges/run=${minor.toFixed(1)}`,
  );
}
