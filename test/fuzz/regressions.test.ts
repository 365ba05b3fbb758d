// Regression tests for what the fuzz runs found, each with the minimal input the shrinker reported
// (docs/fuzzing.md lists them). They run on every test run, not only when fuzzing.
import { test } from 'node:test';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { parse, trace } from './support/parse-events.js';
import { decodeBase64 } from '../../src/core/sasl/scram-syntax.js';
import { ScramClient, ScramClientError } from '../../src/core/sasl/scram-client.js';
import { ConfigError, buildConfig } from '../../src/core/config/load-config.js';
import { PieReader } from '../../src/core/portable/pie-reader.js';
import { DEFAULT_IMPORT_LIMITS } from '../../src/core/config/admin-files-config.js';

/** The server's default import bounds, with positions as the CLI's operator sees them. */
const READER_OPTS = { limits: DEFAULT_IMPORT_LIMITS, positions: true };
import { CommandError } from '../../src/core/admin/command-def.js';
import { STREAM_HEADER } from './support/xml-gen.js';

test('stream parser: an empty element one level below max_xml_depth ends the stream with policy-violation', () => {
  // Found by the limits property: the depth check ran for <a> but not for <a/>, so a stanza could be
  // one level deeper than the configured bound.
  assert.deepEqual(trace(parse([STREAM_HEADER + '<a><a/></a>'], { maxDepth: 1 })), ['start', 'error:policy-violation']);
  assert.deepEqual(trace(parse([STREAM_HEADER + '<a><b/></a>'], { maxDepth: 2 })), ['start', '<a><b/></a>']);
});

test('stream parser: what precedes a bad UTF-8 byte in the same read is parsed first, as if it had come in its own read', () => {
  // Found by the chunking differential (a 20 s run): one read holding the header and a bad byte gave only
  // unsupported-encoding, the same bytes in two reads gave the header first; and a NUL followed by a
  // bad byte gave not-well-formed or unsupported-encoding depending on the cut.
  const bad = Buffer.concat([Buffer.from(STREAM_HEADER + '<presence/>'), Buffer.from([0xbc]), Buffer.from('<message/>')]);
  const cut = STREAM_HEADER.length + '<presence/>'.length;
  const want = ['start', '<presence/>', 'error:unsupported-encoding'];
  assert.deepEqual(trace(parse([bad])), want);
  assert.deepEqual(trace(parse([bad.subarray(0, cut), bad.subarray(cut)])), want);
  assert.deepEqual(trace(parse([Buffer.from([0x00, 0x80])])), ['error:not-well-formed']);
  assert.deepEqual(trace(parse([Buffer.from([0x00]), Buffer.from([0x80])])), ['error:not-well-formed']);
  // A character split across reads, then a bad byte: the split character is not lost.
  const euro = Buffer.from('€');
  const split = [Buffer.from(STREAM_HEADER + '<m>'), euro.subarray(0, 1), Buffer.concat([euro.subarray(1), Buffer.from('</m>'), Buffer.from([0xff])])];
  assert.deepEqual(trace(parse(split)), ['start', '<m>€</m>', 'error:unsupported-encoding']);
});

test('SCRAM: base64 with non-zero pad bits is refused, so a proof or binding has one spelling only', () => {
  // Found while writing the SASL oracle ("only the untouched exchange succeeds"): Buffer.from() ignores
  // the bits after the last full byte, so 'c2FsdB==' decoded to the same 'salt' as 'c2FsdA=='.
  assert.equal(decodeBase64('c2FsdA==')?.toString(), 'salt');
  assert.equal(decodeBase64('c2FsdB=='), null);
  assert.equal(decodeBase64('YWI=')?.toString(), 'ab');
  assert.equal(decodeBase64('YWJ='), null);
});

test('SCRAM client: a server-first with a huge iteration count is refused at once instead of running PBKDF2 for hours', async () => {
  // Found while writing the hostile server-first property: i=4294967295 passed every check, so
  // clientFinal() would have run 2^32-1 PBKDF2 rounds.
  const client = new ScramClient({ mechanism: 'SCRAM-SHA-256', username: 'alice', password: 'pw', clientNonce: 'abc' });
  await assert.rejects(client.clientFinal('r=abcdef,s=c2FsdA==,i=4294967295'), (err: unknown) =>
    err instanceof ScramClientError && /above the maximum 1000000/.test(err.message));
});

test('config: an access rule naming an Object member ("constructor") is refused like any undefined ACL', () => {
  // Found by the ACL-name property: the check used `name in acl`, which is true for inherited members,
  // so such a rule built and then silently never matched.
  for (const raw of [
    { access_rules: { r: [{ allow: 'constructor' }] } },
    { host_config: { localhost: { access_rules: { r: [{ deny: 'hasOwnProperty' }] } } } },
  ]) {
    assert.throws(() => buildConfig(raw), (err: unknown) => err instanceof ConfigError && /access_rules\.r\[0\]\.(allow|deny): ACL "\w+" is not defined/.test(err.message));
  }
});

test('config: an empty top-level key is named as "" in the error, not as the top level', () => {
  // Found by the random-document property: `"": x` was reported as "(top level): unknown option".
  assert.throws(() => buildConfig({ '': 1 }), (err: unknown) => err instanceof ConfigError && err.yamlPath === '""');
});

test('XEP-0227 reader: an xi:include href with a bad %-escape is skipped with a warning, not a URIError', async () => {
  // Found by the reader property: decodeURIComponent('%ZZ') threw out of read().
  const dir = await mkdtemp(join(tmpdir(), 'xmppd-fuzz-reg-'));
  try {
    const file = join(dir, 'main.xml');
    await writeFile(file, "<server-data xmlns='urn:xmpp:pie:0' xmlns:xi='http://www.w3.org/2001/XInclude'><xi:include href='%ZZ'/></server-data>");
    const warnings: string[] = [];
    await new PieReader({ user: async () => {}, skip: () => {}, warn: (m) => void warnings.push(m) }, READER_OPTS).read(file);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /href='%ZZ'> is not a valid file name; skipped/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('XEP-0227 reader: elements nested deeper than import_limits.max_depth are refused instead of overflowing the stack later', async () => {
  // Found by a deep-nesting run of the reader: 200,000 nested elements were read, and serializing the
  // user (as the importer does for private XML) threw "Maximum call stack size exceeded".
  const dir = await mkdtemp(join(tmpdir(), 'xmppd-fuzz-reg-'));
  const doc = (d: number) => `<server-data xmlns='urn:xmpp:pie:0'><host jid='localhost'><user name='a'>${'<x>'.repeat(d)}${'</x>'.repeat(d)}</user></host></server-data>`;
  try {
    const file = join(dir, 'main.xml');
    // <server-data>, <host> and <user> take three of the levels
    const inner = DEFAULT_IMPORT_LIMITS.max_depth - 3;
    await writeFile(file, doc(200_000));
    await assert.rejects(new PieReader({ user: async () => {}, skip: () => {}, warn: () => {} }, READER_OPTS).read(file),
      (err: unknown) => err instanceof CommandError && /nested more than \d+ deep \(import_limits\.max_depth\)/.test(err.message));
    await writeFile(file, doc(inner + 1));
    await assert.rejects(new PieReader({ user: async () => {}, skip: () => {}, warn: () => {} }, READER_OPTS).read(file),
      (err: unknown) => err instanceof CommandError && /import_limits\.max_depth/.test(err.message));
    await writeFile(file, doc(inner));
    let serialized = 0;
    await new PieReader({ user: async (_h, el) => void (serialized = el.toString().length), skip: () => {}, warn: () => {} }, READER_OPTS).read(file);
    assert.ok(serialized > 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
