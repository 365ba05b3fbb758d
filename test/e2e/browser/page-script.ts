// The test page's own script for test/e2e/browser.test.ts: what a web client does with the browser build of
// @xmpp/client (the global XMPP): log in over WebSocket (RFC 7395), chat, and share a file through an
// XEP-0363 slot with fetch() from the page's origin. Plain JavaScript, served inline; the test calls
// window.xmppTest.* through page.evaluate.
export const PAGE_SCRIPT = String.raw`
'use strict';
const { client, xml } = window.XMPP;
const NS_UPLOAD = 'urn:xmpp:http:upload:0';
const sessions = {};

function hex(buf) {
  return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');
}

window.xmppTest = {
  /** Log in; the bound JID and the SASL mechanism the client chose. */
  async login(key, service, domain, username, password, resource) {
    const x = client({ service, domain, username, password, resource, timeout: 10000 });
    const s = { x, inbox: [], waiters: [], errors: [], mechanism: null };
    x.on('send', (el) => { if (el.name === 'auth' || el.name === 'authenticate') s.mechanism = el.attrs.mechanism; });
    x.on('error', (err) => s.errors.push(String((err && err.message) || err)));
    x.on('stanza', (el) => {
      const body = el.name === 'message' ? el.getChildText('body') : null;
      if (body === null) return;
      s.inbox.push({ from: el.attrs.from, body });
      for (const w of s.waiters.splice(0)) w();
    });
    sessions[key] = s;
    const jid = await x.start();
    await x.send(xml('presence'));
    return { jid: jid.toString(), mechanism: s.mechanism, transport: x.socket && x.socket.constructor.name };
  },

  async send(key, to, body) {
    await sessions[key].x.send(xml('message', { to, type: 'chat', id: 'm' + Date.now() }, xml('body', {}, body)));
  },

  /** Wait for a chat message with this body; its sender. */
  receive(key, body, timeoutMs) {
    const s = sessions[key];
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no message "' + body + '" within ' + timeoutMs + ' ms; got ' + JSON.stringify(s.inbox))), timeoutMs);
      const check = () => {
        const m = s.inbox.find((i) => i.body === body);
        if (m) { clearTimeout(timer); resolve(m); } else s.waiters.push(check);
      };
      check();
    });
  },

  /**
   * Find the upload service in the host's disco#items (the one whose disco#info has XEP-0363's feature), ask
   * it for a slot, PUT random bytes with fetch() and GET them back: what the page saw, compared in the page.
   */
  async upload(key, domain, size, type, filename) {
    const { x } = sessions[key];
    const ask = (to, child) => x.iqCaller.request(xml('iq', { type: 'get', to }, child), 10000);
    const items = await ask(domain, xml('query', { xmlns: 'http://jabber.org/protocol/disco#items' }));
    let service = null;
    for (const item of items.getChild('query').getChildren('item')) {
      const info = await ask(item.attrs.jid, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }));
      if (info.getChild('query').getChildren('feature').some((f) => f.attrs.var === NS_UPLOAD)) { service = item.attrs.jid; break; }
    }
    if (service === null) throw new Error('no upload service in the disco#items of ' + domain);
    const bytes = new Uint8Array(size);
    for (let i = 0; i < size; i += 65536) crypto.getRandomValues(bytes.subarray(i, Math.min(size, i + 65536)));
    const answer = await ask(service, xml('request', { xmlns: NS_UPLOAD, filename, size: String(size), 'content-type': type }));
    const slot = answer.getChild('slot', NS_UPLOAD);
    const putEl = slot.getChild('put');
    // XEP-0363 §5: the slot may name headers the PUT must carry (Authorization, Cookie, Expires only).
    const headers = { 'Content-Type': type };
    for (const h of putEl.getChildren('header')) headers[h.attrs.name] = h.text();
    const put = await fetch(putEl.attrs.url, { method: 'PUT', body: bytes, headers });
    const getUrl = slot.getChild('get').attrs.url;
    const got = await fetch(getUrl);
    const back = new Uint8Array(await got.arrayBuffer());
    return {
      origin: location.origin, service, putUrl: putEl.attrs.url, getUrl,
      putStatus: put.status, getStatus: got.status, contentType: got.headers.get('content-type'),
      contentLength: got.headers.get('content-length'),
      same: back.length === bytes.length && back.every((b, i) => b === bytes[i]),
      sha256: hex(await crypto.subtle.digest('SHA-256', bytes)),
    };
  },

  /** A WebSocket to the server from this page: did it open, and how did it close. */
  rawWebSocket(url) {
    return new Promise((resolve) => {
      const ws = new WebSocket(url, 'xmpp');
      let opened = false;
      let errored = false;
      ws.onopen = () => { opened = true; ws.close(1000); };
      ws.onerror = () => { errored = true; };
      ws.onclose = (e) => resolve({ opened, errored, code: e.code, protocol: ws.protocol });
    });
  },

  /** @xmpp/client's start() against a URL: its error message, or null if it logged in. */
  async loginFails(service, domain, username, password) {
    const x = client({ service, domain, username, password, resource: 'refused', timeout: 10000 });
    x.on('error', () => {});
    try {
      await x.start();
      await x.stop();
      return null;
    } catch (err) {
      x.reconnect.stop();
      await x.stop().catch(() => {});
      return String((err && err.message) || err);
    }
  },

  async stopAll() {
    const errors = {};
    for (const [key, s] of Object.entries(sessions)) {
      await s.x.stop().catch(() => {});
      errors[key] = s.errors;
      delete sessions[key];
    }
    return errors;
  },
};
`;
