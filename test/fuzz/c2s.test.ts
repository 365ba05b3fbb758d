// Fuzzing the c2s stream state machine over real loopback sockets (RFC 6120 §4-§7): mutated negotiation
// transcripts get stream errors or SASL failures, never an internal error, and a fresh client can still
// log in after every round. Also the XML bounds from the config (max_xml_*) end the stream as configured.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { startTestServer, type TestServer } from '../support/harness.js';
import { RawClient } from '../support/raw-client.js';
import { until } from '../support/until.js';
import { ConfigError, buildConfig } from '../../src/core/config/load-config.js';
import { describeRun, fuzz } from './support/fuzz-run.js';
import { NS_STREAM, checkAnswer, playRound, transcriptArb } from './support/transcript.js';

const HEADERS = [
  `<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' ${NS_STREAM}>`,
  `<stream:stream to='localhost' version='1.0' xmlns='jabber:client' ${NS_STREAM} xml:lang='en'>`,
  `<stream:stream to='localhost' xmlns='jabber:client' ${NS_STREAM}>`, // no version: pre-RFC 3920 stream
  `<stream:stream to='localhost' version='2.0' xmlns='jabber:client' ${NS_STREAM}>`,
  `<stream:stream to='localhost' version='1.x' xmlns='jabber:client' ${NS_STREAM}>`,
  `<stream:stream to='unknown.test' version='1.0' xmlns='jabber:client' ${NS_STREAM}>`,
  `<stream:stream to='a@localhost/r' version='1.0' xmlns='jabber:client' ${NS_STREAM}>`,
  `<stream:stream version='1.0' xmlns='jabber:client' ${NS_STREAM}>`,
  `<stream:stream to='localhost' version='1.0' xmlns='jabber:server' ${NS_STREAM}>`,
  `<stream:stream to='localhost' version='1.0' xmlns='urn:nope' ${NS_STREAM}>`,
  `<stream:stream to='localhost' version='1.0' from='alice@localhost' id='x' xmlns='jabber:client' ${NS_STREAM}>`,
  "<stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='urn:wrong'>",
  "<s:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:s='http://etherx.jabber.org/streams'>",
  "<stream to='localhost' version='1.0' xmlns='http://etherx.jabber.org/streams'>",
  "<stream:stream to='localhost' version='1.0' xmlns='jabber:client'>",
  "<?xml version='1.1'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>",
  "<?xml version='1.0' encoding='UTF-16'?>",
  '<!DOCTYPE stream>', '<!-- c -->', '<?pi x?>', 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n', '\u0016\u0003\u0001\u0000\u00a5\u0001',
];

let t: TestServer;
before(async () => {
  t = await startTestServer({ max_stanza_size: 4096, max_xml_depth: 20, max_xml_attributes: 16, max_xml_name_length: 64 });
  await t.addUser('alice', 'pw-alice');
});
after(() => t?.stop());

async function freshLogin(): Promise<void> {
  const { c, jid } = await RawClient.login(t.c2sPort, 'alice', 'pw-alice', undefined, { presence: false });
  assert.match(jid, /^alice@localhost\//);
  c.send('</stream:stream>');
  await c.waitClosed();
}

test('c2s: mutated negotiation transcripts get RFC 6120 errors and failures; a fresh client logs in after every round', async (tc) => {
  const known = new Set(t.server.listeners.connections);
  const r = await fuzz(
    fc.asyncProperty(transcriptArb(HEADERS), async ({ text, chunks }) => {
      checkAnswer(await playRound(t.c2sPort, chunks), text);
      await freshLogin();
    }),
    30,
  );
  await until(() => [...t.server.listeners.connections].every((c) => known.has(c)), 'the server released every fuzz connection');
  tc.diagnostic(describeRun(r));
});

test('c2s: after login, auth, STARTTLS, bind and stream restarts in the wrong state and random elements get RFC 6120 answers', async (tc) => {
  const r = await fuzz(
    fc.asyncProperty(transcriptArb(HEADERS, [], true), async ({ text, chunks }) => {
      const { c } = await RawClient.login(t.c2sPort, 'alice', 'pw-alice', undefined, { presence: false });
      checkAnswer(await playRound(c, chunks), text);
      await freshLogin();
    }),
    20,
  );
  tc.diagnostic(describeRun(r));
});

test('c2s: max_xml_depth, max_xml_attributes and max_xml_name_length end the stream with policy-violation', async () => {
  const header = `<stream:stream to='localhost' version='1.0' xmlns='jabber:client' ${NS_STREAM}>`;
  const cases = {
    depth: `<message>${'<x>'.repeat(20)}${'</x>'.repeat(20)}</message>`,
    attributes: `<message ${Array.from({ length: 17 }, (_, i) => `a${i}='v'`).join(' ')}/>`,
    name: `<message><${'n'.repeat(65)}/></message>`,
  };
  for (const [what, stanza] of Object.entries(cases)) {
    const answer = await playRound(t.c2sPort, [Buffer.from(header + stanza)]);
    assert.match(answer, /<stream:error><policy-violation xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']\/>/, `${what}: ${answer}`);
  }
  // Just inside the bounds: the stream goes on to features.
  const ok = `<message>${'<x>'.repeat(19)}${'</x>'.repeat(19)}</message><message ${Array.from({ length: 16 }, (_, i) => `a${i}='v'`).join(' ')}/><message><${'n'.repeat(64)}/></message>`;
  const answer = await playRound(t.c2sPort, [Buffer.from(header + ok)]);
  assert.doesNotMatch(answer, /policy-violation/);
  await freshLogin();
});

test('config: max_xml_depth, max_xml_attributes and max_xml_name_length are validated with their YAML path', () => {
  for (const [key, bad] of [['max_xml_depth', 0], ['max_xml_depth', 5000], ['max_xml_attributes', 'many'], ['max_xml_name_length', 8]] as const) {
    assert.throws(() => buildConfig({ [key]: bad }), (err: unknown) => err instanceof ConfigError && err.yamlPath === key);
  }
  const c = buildConfig({});
  assert.deepEqual([c.max_xml_depth, c.max_xml_attributes, c.max_xml_name_length], [100, 64, 1024]);
});
