// Hostile negotiation transcripts for the c2s and s2s fuzz tests: building blocks, one round over a
// real loopback socket, and the checks on what the server answered (RFC 6120 §4.9 stream errors, §6.5
// SASL failures).
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RawClient } from '../../support/raw-client.js';
import { cutsArb, mutate, mutationArb, nodeArb, serialize, split } from './xml-gen.js';

export const NS_STREAM = "xmlns:stream='http://etherx.jabber.org/streams'";

/** RFC 6120 §4.9.3 conditions; internal-server-error is left out on purpose: it means we broke. */
const STREAM_CONDITIONS = new Set([
  'bad-format', 'bad-namespace-prefix', 'conflict', 'connection-timeout', 'host-gone', 'host-unknown', 'improper-addressing',
  'invalid-from', 'invalid-namespace', 'invalid-xml', 'not-authorized', 'not-well-formed', 'policy-violation',
  'remote-connection-failed', 'reset', 'resource-constraint', 'restricted-xml', 'see-other-host', 'system-shutdown',
  'undefined-condition', 'unsupported-encoding', 'unsupported-feature', 'unsupported-stanza-type', 'unsupported-version',
]);
/** RFC 6120 §6.5 SASL failure conditions. */
const SASL_CONDITIONS = new Set([
  'aborted', 'account-disabled', 'credentials-expired', 'encryption-required', 'incorrect-encoding', 'invalid-authzid',
  'invalid-mechanism', 'malformed-request', 'mechanism-too-weak', 'not-authorized', 'temporary-auth-failure',
]);

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/** SASL payloads: valid and broken base64, empty, '=', PLAIN and SCRAM shapes with bad parts. */
export const saslPayloadArb = fc.oneof(
  fc.constantFrom('', '=', '==', '!!!', 'AGFsaWNl', 'AGFsaWNlAA', b64('\0alice\0wrong'), b64('alice@localhost\0alice\0x'), b64('n,,n=alice,r=abc'),
    b64('p=tls-exporter,,n=alice,r=abc'), b64('y,,n=alice,r=abc'), b64('n,a=bob@localhost,n=alice,r=abc'), b64('n,,m=x,n=alice,r=abc'),
    b64('c=biws,r=abc,p=AAAA'), b64('x'.repeat(9000)), 'A'.repeat(20000), b64('\xff\xfe')),
  fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a).toString('base64')),
);

/** Elements a peer may send at the wrong time or with the wrong content. */
export function elementArb(extra: string[] = []): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom(
      "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", "<starttls xmlns='urn:x'/>", "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
      "<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>", "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>",
      "<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>",
      "<iq type='set' id='s'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>",
      "<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>", "<iq type='get' id='v'><query xmlns='jabber:iq:register'/></iq>",
      "<iq type='set' id='v2'><query xmlns='jabber:iq:register'><username>fz</username><password>x</password></query></iq>",
      "<iq/>", "<iq type='result'/>", "<iq type='bogus' id='1'/>", "<message to='alice@localhost'><body>hi</body></message>",
      "<message from='alice@localhost' to='alice@localhost' type='error'/>", '<presence/>', "<presence type='subscribe' to='alice@localhost'/>",
      "<enable xmlns='urn:xmpp:sm:3'/>", "<r xmlns='urn:xmpp:sm:3'/>", "<a xmlns='urn:xmpp:sm:3' h='99'/>", "<resume xmlns='urn:xmpp:sm:3' previd='x' h='0'/>",
      "<compress xmlns='http://jabber.org/protocol/compress'><method>zlib</method></compress>", "<stream:features/>", "<stream:error/>",
      '<message>', '</message>', "<x xmlns:y='z'><y:q/></x>", '<stream:stream>', '</stream:stream>', ' ', '\n',
      ...extra,
    ),
    fc.tuple(fc.constantFrom('PLAIN', 'SCRAM-SHA-1', 'SCRAM-SHA-256', 'SCRAM-SHA-256-PLUS', 'EXTERNAL', 'ANONYMOUS', 'X-OAUTH2', '', 'plain'), saslPayloadArb)
      .map(([m, p]) => `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='${m}'>${p}</auth>`),
    saslPayloadArb.map((p) => `<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>${p}</response>`),
    nodeArb({ depth: 3 }).map((n) => serialize(n)),
  );
}

/**
 * A transcript: headers and elements in any order, maybe mutated bytes, cut into chunks anywhere. It
 * starts with a header unless `afterAuth` (the stream is already open and authenticated then).
 */
export function transcriptArb(headers: string[], extra: string[] = [], afterAuth = false): fc.Arbitrary<{ text: string; chunks: Buffer[] }> {
  return fc
    .record({
      steps: fc.array(fc.oneof({ weight: 1, arbitrary: fc.constantFrom(...headers) }, { weight: 4, arbitrary: elementArb(extra) }), { minLength: 1, maxLength: 8 }),
      first: afterAuth ? fc.constant('') : fc.constantFrom(...headers),
      muts: fc.option(fc.array(mutationArb, { minLength: 1, maxLength: 3 }), { freq: 3 }),
      cuts: cutsArb,
    })
    .map(({ steps, first, muts, cuts }) => {
      const text = [first, ...steps].join('');
      const bytes = muts ? mutate(Buffer.from(text, 'utf8'), muts) : Buffer.from(text, 'utf8');
      return { text: muts ? `(mutated) ${bytes.toString('latin1')}` : text, chunks: split(bytes, cuts) };
    });
}

/**
 * Sends the chunks on a fresh connection, then closes our side if the server has not closed by then,
 * and returns everything it answered. A connection the server never releases fails the round.
 */
export async function playRound(to: number | RawClient, chunks: Buffer[]): Promise<string> {
  const c = typeof to === 'number' ? await RawClient.connect(to) : to;
  const before = c.buffer.length;
  for (const ch of chunks) c.send(ch);
  try {
    await c.waitClosed(300);
  } catch {
    // Still open: the transcript left the stream mid-negotiation. End ours; the server must follow.
    c.socket.end();
    await c.waitClosed(5000);
  }
  return c.buffer.slice(before);
}

/** What any answer must look like: RFC 6120 conditions only, no internal error, no success. */
export function checkAnswer(answer: string, transcript: string): void {
  const ctx = `\n--- sent: ${JSON.stringify(transcript.slice(0, 2000))}\n--- got: ${JSON.stringify(answer.slice(0, 2000))}`;
  const errors = [...answer.matchAll(/<stream:error>\s*<([a-z-]+)/g)].map((m) => m[1]!);
  assert.ok(errors.length <= 1, `more than one stream error${ctx}`);
  for (const e of errors) assert.ok(STREAM_CONDITIONS.has(e), `stream error ${e}${ctx}`);
  if (errors.length === 1) {
    assert.match(answer.slice(answer.indexOf('<stream:error>')), /^<stream:error>[\s\S]*<\/stream:error>(<\/stream:stream>)?$/, `data after the stream error${ctx}`);
  }
  for (const m of answer.matchAll(/<failure xmlns=["']urn:ietf:params:xml:ns:xmpp-sasl["']>\s*<([a-z-]+)/g)) {
    assert.ok(SASL_CONDITIONS.has(m[1]!), `SASL failure ${m[1]}${ctx}`);
  }
  assert.doesNotMatch(answer, /<success[\s>/]/, `a transcript without credentials authenticated${ctx}`);
  assert.doesNotMatch(answer, /internal-server-error/, `internal-server-error${ctx}`);
}
