// @xmpp/client 0.14 (npm, xmpp.js) with its default settings: alice logs in, sends bob a chat message, prints
// the answer she gets, stops, and logs in again (as an app does after a restart of its connection: the same
// client object, so the FAST token it was given is used), then stops. JSON lines on stdout (test/support/slixmpp.ts).
// Usage: node xmppjs_alice.mjs <port> <starttls|direct> <username> <password> <peer> <body>
// The server's certificate comes from a private CA: the test sets NODE_EXTRA_CA_CERTS to it, Node's own
// variable a user with a private CA sets too.
import { client, xml } from '@xmpp/client';

const [port, mode, username, password, peer, body] = process.argv.slice(2);
const emit = (event, fields = {}) => process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);
setTimeout(() => {
  emit('timeout');
  process.exit(3);
}, 20_000).unref();

// Options a user sets too: the server's address and port when its domain is not in DNS (service; xmpp://
// is STARTTLS, xmpps:// XEP-0368 direct TLS) and the domain of the account.
// timeout: @xmpp/client waits 2 s for each server answer (stream open, every SASL step, the stream close);
// users on slow mobile links raise it the same way, and a fully loaded 2-core test machine can take longer
// than 2 s for a TLS handshake. It changes no protocol choice (SASL2, Bind2 and FAST stay the defaults).
const x = client({ service: `${mode === 'direct' ? 'xmpps' : 'xmpp'}://localhost:${port}`, domain: 'localhost', username, password, timeout: 10_000 });
// What alice sent to authenticate: element names, the SASL2 mechanisms and inline requests per login.
const sent = [];
const logins = [];
x.on('send', (el) => {
  sent.push(el.name);
  if (el.name === 'authenticate') {
    logins.push({
      mechanism: el.attrs.mechanism,
      bind2: !!el.getChild('bind', 'urn:xmpp:bind:0'),
      request_token: el.getChild('request-token', 'urn:xmpp:fast:0')?.attrs.mechanism ?? null,
    });
  }
});
let round = 0;
x.on('error', (err) => emit('error', { name: err.name, condition: err.condition, message: err.message }));
x.on('stanza', async (el) => {
  if (el.is('message') && el.getChildText('body')) {
    emit('message', { sender: el.attrs.from, type: el.attrs.type, body: el.getChildText('body') });
    x.reconnect.stop();
    await x.stop();
    await x.start();
  }
});
x.on('online', async (address) => {
  if (++round === 2) {
    emit('relogin', { jid: address.toString() });
    await x.stop();
    emit('done', { sent_sasl2: sent.includes('authenticate'), sent_classic_auth: sent.includes('auth'), logins });
    process.exit(0);
  }
  emit('session_start', { jid: address.toString(), tls: x.socket?.socket?.getProtocol?.() ?? null });
  await x.send(xml('presence'));
  await x.send(xml('message', { to: peer, type: 'chat' }, xml('body', {}, body)));
});
try {
  await x.start();
} catch (err) {
  emit('exception', { error: String(err), condition: err.condition, stack: err.stack });
  process.exit(1);
}
