// XEP-0045 §7.2.14 discussion history: the last messages (and the subject change) of a room, replayed on
// join with XEP-0203 delay, limited by the joiner's maxchars / maxstanzas / seconds / since.
import type { Element } from '../../src/sdk.js';

export interface HistoryEntry {
  /** The message as broadcast (from the occupant's room JID), without a 'to'. */
  stanza: Element;
  /** When it was sent (ms since the epoch). */
  ts: number;
  /** Characters of the complete stanza (what maxchars counts, §7.2.14). */
  chars: number;
}

export interface HistoryRequest { maxstanzas?: number; maxchars?: number; seconds?: number; since?: number }

export class History {
  entries: HistoryEntry[] = [];

  constructor(public max: number) {}

  add(stanza: Element, ts = Date.now()): void {
    if (this.max <= 0) return;
    this.entries.push({ stanza, ts, chars: stanza.toString().length });
    if (this.entries.length > this.max) this.entries.splice(0, this.entries.length - this.max);
  }

  /** The entries to send, oldest first: every limit applies at once (§7.2.14: the most restrictive wins). */
  select(req: HistoryRequest, now = Date.now()): HistoryEntry[] {
    let out = this.entries;
    if (req.seconds !== undefined) out = out.filter((e) => e.ts >= now - req.seconds! * 1000);
    if (req.since !== undefined) out = out.filter((e) => e.ts >= req.since!);
    if (req.maxstanzas !== undefined) out = req.maxstanzas <= 0 ? [] : out.slice(-req.maxstanzas);
    if (req.maxchars !== undefined) {
      let total = 0;
      let i = out.length;
      while (i > 0 && total + out[i - 1]!.chars <= req.maxchars) total += out[--i]!.chars;
      out = out.slice(i);
    }
    return out;
  }
}

/** Parse <history/> of a join (§7.2.14); bad values are ignored, as if not given. */
export function historyRequest(x: Element | undefined): HistoryRequest {
  const h = x?.getChild('history');
  if (!h) return {};
  const int = (v: unknown) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : undefined);
  const since = typeof h.attrs.since === 'string' ? Date.parse(h.attrs.since) : NaN;
  return {
    ...(int(h.attrs.maxstanzas) !== undefined && { maxstanzas: int(h.attrs.maxstanzas) }),
    ...(int(h.attrs.maxchars) !== undefined && { maxchars: int(h.attrs.maxchars) }),
    ...(int(h.attrs.seconds) !== undefined && { seconds: int(h.attrs.seconds) }),
    ...(!Number.isNaN(since) && { since }),
  };
}
