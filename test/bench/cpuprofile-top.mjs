#!/usr/bin/env node
// Top self-time functions of a V8 .cpuprofile (node --cpu-prof).  usage: node cpuprofile-top.mjs FILE [N]
import { readFileSync } from 'node:fs';
const [file, nArg] = process.argv.slice(2);
if (!file) { console.error('usage: cpuprofile-top.mjs FILE.cpuprofile [N]'); process.exit(2); }
const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map(); // node id -> microseconds
const dt = prof.timeDeltas;
for (let i = 0; i < prof.samples.length; i++) self.set(prof.samples[i], (self.get(prof.samples[i]) || 0) + (dt[i + 1] ?? 0));
const agg = new Map();
let total = 0;
for (const [id, us] of self) {
  const cf = byId.get(id).callFrame;
  const url = (cf.url || '').replace(/^file:\/\//, '').replace(/^.*\/(dist|node_modules)\//, '$1/');
  const key = `${cf.functionName || '(anonymous)'}  ${url}${url ? `:${cf.lineNumber + 1}` : ''}`;
  agg.set(key, (agg.get(key) || 0) + us);
  total += us;
}
const idle = [...agg].filter(([k]) => /^\((idle|program|garbage collector)\)/.test(k)).reduce((s, [, v]) => s + v, 0);
console.log(`profile ${file}: ${(total / 1e6).toFixed(1)} s sampled, ${((total - idle) / 1e6).toFixed(1)} s not idle`);
console.log('self ms  % of busy  function  location   (idle/program/GC rows: % of all samples)');
for (const [k, us] of [...agg].sort((a, b) => b[1] - a[1]).slice(0, Number(nArg || 10))) {
  const base = /^\((idle|program|garbage collector)\)/.test(k) ? total : total - idle;
  console.log(`${(us / 1000).toFixed(0).padStart(7)}  ${(100 * us / Math.max(1, base)).toFixed(1).padStart(7)}%  ${k}`);
}
