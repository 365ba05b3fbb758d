// Element and attribute names that RFC 6120/6121 streams and the common XEPs use in nearly every stanza.
// The stream parser hands out these constant strings instead of cutting a new one per name: fewer
// allocations, and property keys that are already internalized (attrs[name] needs no string-table lookup).

const NAMES = [
  // RFC 6120/6121 stanzas, their children and attributes
  'message', 'presence', 'iq', 'body', 'subject', 'thread', 'show', 'status', 'priority', 'error', 'query', 'item',
  'to', 'from', 'type', 'id', 'xmlns', 'xml:lang', 'jid', 'name', 'subscription', 'node', 'ver', 'x', 'c', 'hash',
  // chat states (XEP-0085), receipts (XEP-0184), stanza ids (XEP-0359), delay (XEP-0203), stream management (XEP-0198)
  'active', 'composing', 'paused', 'inactive', 'gone', 'request', 'received', 'origin-id', 'stanza-id', 'delay',
  'stamp', 'by', 'r', 'a', 'h', 'ping', 'markable', 'displayed',
];

/** Candidates by length, so a lookup compares against one or two names at most. */
const BY_LENGTH: string[][] = [];
for (const n of NAMES) (BY_LENGTH[n.length] ??= []).push(n);

/** The constant string equal to s[from, to), or null when it is not one of the common names. */
export function commonName(s: string, from: number, to: number): string | null {
  const list = BY_LENGTH[to - from];
  if (list === undefined) return null;
  const c = s.charCodeAt(from);
  for (let k = 0; k < list.length; k++) {
    const n = list[k]!;
    if (n.charCodeAt(0) === c && s.startsWith(n, from)) return n;
  }
  return null;
}
