// Human-readable `xmppd cluster status`: the node and cluster, then each section (replication, nodes, consumers...)
// as "key: value" lines, and lists of records (or records by name) as tables with a header. --json prints the command's result as is.

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function cell(v: unknown): string {
  if (v === undefined || v === null || v === '') return '-';
  if (Array.isArray(v)) return v.map(cell).join(',');
  if (isObj(v)) return JSON.stringify(v);
  return String(v);
}

/** Rows of records as aligned columns under a header (the union of their keys, in first-seen order). */
export function table(rows: Obj[], indent = ''): string[] {
  const cols: string[] = [];
  for (const r of rows) for (const k of Object.keys(r)) if (!cols.includes(k)) cols.push(k);
  const cells = rows.map((r) => cols.map((c) => cell(r[c])));
  const width = cols.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const line = (vals: string[]) => indent + vals.map((v, i) => (i === vals.length - 1 ? v : v.padEnd(width[i]!))).join('  ');
  return [line(cols.map((c) => c.toUpperCase())), ...cells.map(line)];
}

function section(value: unknown, indent: string): string[] {
  if (Array.isArray(value)) {
    if (!value.length) return [`${indent}(none)`];
    if (value.every(isObj)) return table(value as Obj[], indent);
    return value.map((v) => `${indent}${cell(v)}`);
  }
  if (!isObj(value)) return [`${indent}${cell(value)}`];
  // name -> record (nodes by name, consumers by node): a table whose first column is the name
  const entries = Object.entries(value);
  if (entries.length && entries.every(([, v]) => isObj(v) && Object.values(v).every((x) => !isObj(x) && !Array.isArray(x)))) {
    return table(entries.map(([name, v]) => ({ name, ...(v as Obj) })), indent);
  }
  const out: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    if (Array.isArray(v) && v.length && v.every(isObj)) out.push(`${indent}${k}:`, ...table(v as Obj[], `${indent}  `));
    else if (isObj(v)) out.push(`${indent}${k}:`, ...section(v, `${indent}  `));
    else out.push(`${indent}${k}: ${cell(v)}`);
  }
  return out;
}

export function formatClusterStatus(status: Obj): string {
  if (status.clustered === false) return String(status.message);
  const { clustered: _c, node, cluster, ...parts } = status;
  const out = [`node: ${cell(node)}`, `cluster: ${cell(cluster)}`];
  for (const [name, value] of Object.entries(parts)) out.push('', `${name}:`, ...section(value, '  '));
  return out.join('\n');
}
