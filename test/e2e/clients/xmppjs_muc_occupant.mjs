// @xmpp/client 0.14 (npm, xmpp.js) with its default settings as a MUC occupant (XEP-0045): alice enters a room,
// reports the history and subject she gets, answers the first live groupchat message, changes her nick, and
// leaves. JSON lines on stdout (test/support/slixmpp.ts). The server's CA comes in NODE_EXTRA_CA_CERTS.
// Usage: node xmppjs_muc_occupant.mjs <port> <username> <password> <room> <nick> <new-nick> <reply>
import { client, xml } from '@xmpp/client';

const [port, username, password, room, nick, newNick, reply] = process.argv.slice(2);
const emit = (event, fields = {}) => process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);
setTimeout(() => {
  emit('timeout');
  process.exit(3);
}, 30_000).unref();

const MUC = 'http://jabber.org/protocol/muc';
const MUC_USER = 'http://jabber.org/protocol/muc#user';
// timeout: as in xmppjs_alice.mjs, room for a loaded 2-core test machine's TLS handshakes; no protocol choice changes.
const x = client({ service: `xmpp://localhost:${port}`, domain: 'localhost', username, password, timeout: 10_000 });
const codes = (el) => (el.getChild('x', MUC_USER)?.getChildren('status') ?? []).map((s) => Number(s.attrs.code)).sort((a, b) => a - b);
const item = (el) => el.getChild('x', MUC_USER)?.getChild('item')?.attrs ?? {};
let answered = false;

x.on('error', (err) => emit('error', { name: err.name, condition: err.condition, message: err.message }));
x.on('stanza', async (el) => {
  const from = el.attrs.from ?? '';
  if (el.is('presence')) {
    if (el.attrs.type === 'error') return emit('presence_error', { from, condition: el.getChild('error')?.getChildElements()[0]?.name });
    const self = codes(el).includes(110);
    if (!self) return;
    if (from === `${room}/${nick}` && el.attrs.type === undefined) return emit('self', { codes: codes(el), ...item(el) });
    if (from === `${room}/${nick}` && el.attrs.type === 'unavailable') return emit('nick_changed', { codes: codes(el), nick: item(el).nick });
    if (from === `${room}/${newNick}` && el.attrs.type === undefined) {
      emit('renamed', { codes: codes(el) });
      return x.send(xml('presence', { to: `${room}/${newNick}`, type: 'unavailable' }));
    }
    if (from === `${room}/${newNick}` && el.attrs.type === 'unavailable') {
      emit('left', { codes: codes(el), role: item(el).role });
      x.reconnect.stop();
      await x.stop();
      emit('done');
      process.exit(0);
    }
    return;
  }
  if (!el.is('message') || el.attrs.type !== 'groupchat') return;
  const body = el.getChildText('body');
  const delay = el.getChild('delay', 'urn:xmpp:delay');
  if (body === null && el.getChild('subject')) return emit('subject', { from, subject: el.getChildText('subject') });
  if (delay) return emit('history', { from, body, stamp: delay.attrs.stamp, delay_from: delay.attrs.from });
  if (from === `${room}/${nick}`) {
    emit('reflected', { body });
    return x.send(xml('presence', { to: `${room}/${newNick}` }));
  }
  if (!answered) {
    answered = true;
    emit('live', { from, body });
    await x.send(xml('message', { to: room, type: 'groupchat', id: 'xjs-muc-1' }, xml('body', {}, reply)));
  }
});
x.on('online', async (address) => {
  emit('session_start', { jid: address.toString() });
  await x.send(xml('presence'));
  await x.send(xml('presence', { to: `${room}/${nick}` }, xml('x', { xmlns: MUC })));
});
try {
  await x.start();
} catch (err) {
  emit('exception', { error: String(err), condition: err.condition, stack: err.stack });
  process.exit(1);
}
