// Fuzzing the incoming s2s stream state machine over real loopback sockets (RFC 6120 §4-§6, §13.7.2,
// XEP-0220 dialback, XEP-0178 EXTERNAL): mutated transcripts get stream errors, never an internal error,
// and after every round both a fresh server stream gets its features and a fresh client logs in.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { startTestServer, type TestServer } from '../support/harness.js';
import { RawClient } from '../support/raw-client.js';
import { describeRun, fuzz } from './support/fuzz-run.js';
import { NS_STREAM, checkAnswer, playRound, transcriptArb } from './support/transcript.js';

const DB = "xmlns:db='jabber:server:dialback'";
const HEADERS = [
  `<?xml version='1.0'?><stream:stream xmlns='jabber:server' ${NS_STREAM} ${DB} from='a.test' to='localhost' version='1.0'>`,
  `<stream:stream xmlns='jabber:server' ${NS_STREAM} ${DB} to='localhost' version='1.0'>`,
  `<stream:stream xmlns='jabber:server' ${NS_STREAM} ${DB} from='a.test' to='localhost'>`, // dialback-only, no version
  `<stream:stream xmlns='jabber:server' ${NS_STREAM} from='b.test' to='localhost' version='1.0'>`,
  `<stream:stream xmlns='jabber:server' ${NS_STREAM} ${DB} from='localhost' to='localhost' version='1.0'>`,
  `<stream:stream xmlns='jabber:server' ${NS_STREAM} ${DB} from='a.test' to='unknown.test' version='1.0'>`,
  `<stream:stream xmlns='jabber:server' ${NS_STREAM} ${DB} from='not a domain' to='localhost' version='1.0'>`,
  `<stream:stream xmlns='jabber:server' ${NS_STREAM} ${DB} from='a.test' to='localhost' version='3.0'>`,
  `<stream:stream xmlns='jabber:client' ${NS_STREAM} from='a.test' to='localhost' version='1.0'>`,
  `<stream:stream xmlns='jabber:component:accept' ${NS_STREAM} to='localhost'>`,
  `<stream:stream xmlns='jabber:server' xmlns:stream='urn:wrong' from='a.test' to='localhost' version='1.0'>`,
  "<?xml version='1.0'?><!DOCTYPE x>", '\u0016\u0003\u0001\u0000\u00a5\u0001',
];
const S2S_ELEMENTS = [
  "<db:result from='a.test' to='localhost'>0123456789abcdef</db:result>", "<db:result from='b.test' to='localhost'/>",
  "<db:result from='a.test' to='elsewhere.test'>k</db:result>", "<db:result to='localhost'>k</db:result>",
  "<db:verify from='localhost' to='a.test' id='x'>k</db:verify>", "<db:verify from='a.test' to='localhost'/>",
  "<db:result from='a.test' to='localhost' type='valid'/>", "<db:result xmlns:db='urn:not-dialback' from='a.test' to='localhost'>k</db:result>",
  "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>YS50ZXN0</auth>",
  "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>",
  "<message from='x@a.test' to='alice@localhost' type='chat'><body>hi</body></message>",
  "<message from='x@evil.test' to='alice@localhost'/>", "<iq from='a.test' to='localhost' type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>",
  "<presence from='x@a.test/r' to='alice@localhost'/>", "<message to='alice@localhost'/>",
];

let t: TestServer;
let s2sPort = 0;
before(async () => {
  t = await startTestServer({
    listen: [{ port: 0, ip: '127.0.0.1', type: 'c2s' }, { port: 0, ip: '127.0.0.1', type: 's2s' }],
    max_stanza_size: 4096,
    // Loopback only: the peer domains point at a closed port and DNS at a silent one, so a dialback
    // verification attempt fails fast and nothing reaches the system resolver.
    s2s: {
      enabled: true, system_ca: false, connect_timeout: 2, dns_servers: ['127.0.0.1:9'],
      overrides: { 'a.test': '127.0.0.1:9', 'b.test': '127.0.0.1:9', 'evil.test': '127.0.0.1:9' },
    },
  });
  s2sPort = t.server.listeners.bound.find((l) => l.type === 's2s')!.port;
  await t.addUser('alice', 'pw-alice');
});
after(() => t?.stop());

test('s2s: mutated transcripts get RFC 6120 stream errors; a fresh server stream and a fresh client still work after every round', async (tc) => {
  const r = await fuzz(
    fc.asyncProperty(transcriptArb(HEADERS, S2S_ELEMENTS), async ({ text, chunks }) => {
      checkAnswer(await playRound(s2sPort, chunks), text);
      const peer = await RawClient.connect(s2sPort);
      peer.send(HEADERS[0]!);
      assert.match(await peer.features(), /urn:ietf:params:xml:ns:xmpp-tls/);
      peer.send('</stream:stream>');
      await peer.waitClosed();
      const { c } = await RawClient.login(t.c2sPort, 'alice', 'pw-alice', undefined, { presence: false });
      c.send('</stream:stream>');
      await c.waitClosed();
    }),
    25,
  );
  tc.diagnostic(describeRun(r));
});
