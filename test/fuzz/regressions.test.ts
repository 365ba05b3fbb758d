// Regression tests for what the fuzz runs found, each with the minimal input the shrinker reported
// (docs/fuzzing.md lists them). They run on every test run, not only when fuzzing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse, trace } from './support/parse-events.js';
import { STREAM_HEADER } from './support/xml-gen.js';

test('stream parser: an empty element one level below max_xml_depth ends the stream with policy-violation', () => {
  // Found by the limits property: the depth check ran for <a> but not for <a/>, so a stanza could be
  // one level deeper than the configured bound.
  assert.deepEqual(trace(parse([STREAM_HEADER + '<a><a/></a>'], { maxDepth: 1 })), ['start', 'error:policy-violation']);
  assert.deepEqual(trace(parse([STREAM_HEADER + '<a><b/></a>'], { maxDepth: 2 })), ['start', '<a><b/></a>']);
});
