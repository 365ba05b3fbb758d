// YAML paths as the config errors print them ("listen[0].websocket.path", "host_config.example.com.tls"):
// split back into keys and indices against the document, whose keys may themselves hold dots (domains).
export type Segment = string | number;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
/** An empty key prints as "" so that it never reads as "(top level)". */
const shown = (k: string) => (k === '' ? '""' : k);

/**
 * The longest prefix of `path` that exists in `root`, as segments; `rest` is what names no existing node
 * (a missing required key, say). Where keys overlap ("a" and "a.b"), the longest key that fits wins.
 */
export function resolvePath(root: unknown, path: string): { segments: Segment[]; rest: string } {
  const segments: Segment[] = [];
  let node = root;
  let s = path;
  while (s !== '') {
    const idx = /^\[(\d+)\]/.exec(s);
    if (idx) {
      const i = Number(idx[1]);
      if (!Array.isArray(node) || i >= node.length) break;
      segments.push(i);
      node = node[i];
      s = s.slice(idx[0].length);
    } else {
      if (!isObj(node)) break;
      let best: string | undefined;
      for (const k of Object.keys(node)) {
        const d = shown(k);
        if ((s === d || s.startsWith(`${d}.`) || s.startsWith(`${d}[`)) && (best === undefined || d.length > shown(best).length)) best = k;
      }
      if (best === undefined) break;
      segments.push(best);
      node = node[best];
      s = s.slice(shown(best).length);
    }
    if (s.startsWith('.')) s = s.slice(1);
  }
  return { segments, rest: s };
}

export function formatPath(segments: Segment[], rest = ''): string {
  let out = '';
  for (const seg of segments) out += typeof seg === 'number' ? `[${seg}]` : `${out ? '.' : ''}${shown(seg)}`;
  if (rest) out += rest.startsWith('[') || !out ? rest : `.${rest}`;
  return out;
}
