// Feeds chunks to a StreamParser and records what it reported, plus the invariants every run must keep
// whatever the input: RFC 6120 conditions only, at most one error, nothing after it, never a throw.
import assert from 'node:assert/strict';
import type { Element } from '@xmpp/xml';
import { StreamParser, type StreamParserOptions } from '../../../src/interface/xml/stream-parser.js';
import type { StreamErrorCondition } from '../../../src/core/errors.js';

export type ParseEvent =
  | { kind: 'start'; attrs: Record<string, string> }
  | { kind: 'stanza'; el: Element }
  | { kind: 'end' }
  | { kind: 'error'; condition: StreamErrorCondition; text: string };

/** What bad XML may earn (RFC 6120 §4.9.3): never internal-server-error, which means the parser broke. */
export const PARSER_CONDITIONS: ReadonlySet<string> = new Set([
  'not-well-formed', 'restricted-xml', 'bad-format', 'invalid-namespace', 'bad-namespace-prefix',
  'unsupported-encoding', 'policy-violation', 'invalid-xml',
]);

export function parse(chunks: Array<Buffer | string>, opts: StreamParserOptions = {}): ParseEvent[] {
  const events: ParseEvent[] = [];
  const p = new StreamParser(
    {
      streamStart: (_n, attrs) => events.push({ kind: 'start', attrs }),
      stanza: (el) => events.push({ kind: 'stanza', el }),
      streamEnd: () => events.push({ kind: 'end' }),
      error: (condition, text) => events.push({ kind: 'error', condition, text }),
    },
    opts,
  );
  for (const c of chunks) p.write(c); // write() is documented never to throw: a throw fails the property
  return events;
}

/** One line per event, comparable across chunkings (text split differently serializes the same). */
export function trace(events: ParseEvent[]): string[] {
  return events.map((e) =>
    e.kind === 'start' ? 'start' : e.kind === 'stanza' ? e.el.toString() : e.kind === 'end' ? 'end' : `error:${e.condition}`);
}

function depth(el: Element): number {
  let d = 0;
  for (const c of el.children) if (typeof c !== 'string') d = Math.max(d, depth(c as Element));
  return d + 1;
}

function* elements(el: Element): Generator<Element> {
  yield el;
  for (const c of el.children) if (typeof c !== 'string') yield* elements(c as Element);
}

/** The invariants of any run, valid or not; the limits are the parser's (defaults when not given). */
export function checkInvariants(events: ParseEvent[], limits: Required<StreamParserOptions>): void {
  const errors = events.filter((e) => e.kind === 'error');
  assert.ok(errors.length <= 1, `more than one error: ${trace(events).join(' | ')}`);
  if (errors.length === 1) {
    assert.equal(events[events.length - 1]!.kind, 'error', 'events after the error');
    const e = errors[0] as Extract<ParseEvent, { kind: 'error' }>;
    assert.ok(PARSER_CONDITIONS.has(e.condition), `unexpected condition ${e.condition}: ${e.text}`);
  }
  let started = false;
  let ended = false;
  for (const e of events) {
    if (e.kind === 'error') break;
    assert.ok(!ended, 'an event after the stream end');
    if (e.kind === 'start') {
      assert.ok(!started, 'two stream headers from one parser');
      started = true;
    } else {
      assert.ok(started, `${e.kind} before the stream header`);
      if (e.kind === 'end') ended = true;
      else {
        assert.equal(e.el.parent, null, 'stanza not detached');
        assert.ok(depth(e.el) <= limits.maxDepth, `stanza deeper than ${limits.maxDepth}`);
        for (const el of elements(e.el)) {
          assert.ok(Object.keys(el.attrs).length <= limits.maxAttributes, `<${el.name}> has more than ${limits.maxAttributes} attributes`);
          assert.ok(el.name.length <= limits.maxNameLength, `element name longer than ${limits.maxNameLength}`);
          for (const k of Object.keys(el.attrs)) assert.ok(k.length <= limits.maxNameLength, 'attribute name too long');
        }
        assert.ok(Buffer.byteLength(e.el.toString()) <= limits.maxStanzaSize * 6, 'stanza far above the size limit');
      }
    }
  }
}
