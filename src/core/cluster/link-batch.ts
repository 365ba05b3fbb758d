// The framing of a batch of stanzas between cluster nodes (DESIGN.md "Data layer", node-link.ts): one NATS
// message carries many entries for one node, in order, length-prefixed so the stanza's XML travels as it is
// (no JSON escaping). `B<seq>,<link id length>\n<link id>` then per entry `<kind><a>,<b>,<c>\n<sid><jid><x>`.

/** `d`: deliver the stanza `x`; `c`: close the session (`x`: JSON {cond, text} or empty). */
export type EntryKind = 'd' | 'c';

export interface BatchEntry {
  kind: EntryKind;
  sid: string;
  jid: string;
  x: string;
}

export interface Batch {
  /** The sending link (node name and boot token): a retried batch is recognised by it and `seq`. */
  link: string;
  seq: number;
  entries: BatchEntry[];
}

/** First byte of a batch (a JSON request starts with `{`). */
export const BATCH_MARK = 0x42; // 'B'

export function entrySize(e: BatchEntry): number {
  return e.sid.length + e.jid.length + e.x.length + 24;
}

export function encodeBatch(link: string, seq: number, entries: readonly BatchEntry[]): string {
  const parts: string[] = [`B${seq},${link.length}\n${link}`];
  for (const e of entries) parts.push(`${e.kind}${e.sid.length},${e.jid.length},${e.x.length}\n`, e.sid, e.jid, e.x);
  return parts.join('');
}

/** Lengths are in UTF-16 code units of the decoded text; null when the frame is malformed. */
export function decodeBatch(s: string): Batch | null {
  let pos = 1;
  const nums = (count: number): number[] | null => {
    const nl = s.indexOf('\n', pos);
    if (nl < 0) return null;
    const out = s.slice(pos, nl).split(',').map(Number);
    if (out.length !== count || out.some((n) => !Number.isInteger(n) || n < 0)) return null;
    pos = nl + 1;
    return out;
  };
  if (s.charCodeAt(0) !== BATCH_MARK) return null;
  const head = nums(2);
  if (!head) return null;
  const link = s.slice(pos, pos + head[1]!);
  pos += head[1]!;
  const entries: BatchEntry[] = [];
  while (pos < s.length) {
    const kind = s[pos];
    if (kind !== 'd' && kind !== 'c') return null;
    pos++;
    const n = nums(3);
    if (!n || pos + n[0]! + n[1]! + n[2]! > s.length) return null;
    const sid = s.slice(pos, (pos += n[0]!));
    const jid = s.slice(pos, (pos += n[1]!));
    const x = s.slice(pos, (pos += n[2]!));
    entries.push({ kind, sid, jid, x });
  }
  return { link, seq: head[0]!, entries };
}
