// A lean benchmark client for any XMPP server (RFC 6120 c2s over TCP, RFC 7395 over WebSocket): SCRAM-SHA-1
// (PLAIN if the server offers nothing else), XEP-0077 registration, bind, XEP-0115 caps answers. Substring
// parsing on known stanza shapes, as the shared harness's generator does; the same code drives every server.
import { connect } from 'node:net';
import { createHash, createHmac, pbkdf2, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
let WebSocketCtor = null;
const wsClass = () => (WebSocketCtor ??= createRequire(resolve(REPO, 'package.json'))('ws').WebSocket);

export const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
export const CAPS_NODE = 'urn:example:bench';
const xmlEsc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/'/g, '&apos;');

/** XEP-0115 §5.1 sha-1 'ver' of a client/pc identity with these features. */
export function capsVer(features) {
  const s = `client/pc//<${[...features].sort().map((f) => `${f}<`).join('')}`;
  return createHash('sha1').update(s).digest('base64');
}

export class Client {
  /** o: { transport: 'tcp'|'ws', port, url, domain, user, password, resource, caps: [features] } */
  constructor(o) {
    this.o = { transport: 'tcp', password: 'benchpass', resource: 'r', ...o };
    this.buf = '';
    this.waiters = [];
    /** Raw mode: once set, every chunk goes here instead of the wait() buffer. */
    this.sink = null;
    this.jid = null;
    /** The start of an IQ cut by the end of a read (answerPings finishes it with the next read). */
    this.iqCarry = '';
  }

  open() {
    const o = this.o;
    if (o.transport === 'ws') {
      return new Promise((res, rej) => {
        const WebSocket = wsClass();
        this.ws = new WebSocket(o.url, ['xmpp'], { perMessageDeflate: false });
        this.ws.once('error', rej);
        this.ws.once('open', () => { this.ws.on('error', () => {}); res(); });
        this.ws.on('message', (d) => this.feed(d.toString()));
      });
    }
    return new Promise((res, rej) => {
      this.sock = connect(o.port, '127.0.0.1', res);
      this.sock.setNoDelay(true);
      this.sock.setEncoding('utf8');
      this.sock.once('error', rej);
      this.sock.on('data', (d) => this.feed(d));
    });
  }

  feed(d) {
    // XEP-0199 §4.2: a server pings a client that has sent nothing for a while (xmppd after 300 s) and closes
    // the stream when no answer comes; a long fan-out only receives, so every mode answers pings.
    if (this.iqCarry || d.includes('<iq') || d.endsWith('<') || d.endsWith('<i')) this.answerPings(d);
    if (this.caps && d.includes(NS_DISCO_INFO) && (d.includes("type='get'") || d.includes('type="get"'))) this.answerDisco(d);
    if (this.sink) return this.sink(d);
    this.buf += d;
    for (const w of [...this.waiters]) {
      if (w.re.test(this.buf)) { this.waiters.splice(this.waiters.indexOf(w), 1); const b = this.buf; this.buf = ''; w.res(b); }
    }
  }

  /** The buffer up to now once it matches re (the buffer is then emptied). */
  wait(re, ms = 120_000) {
    return new Promise((res, rej) => {
      if (re.test(this.buf)) { const b = this.buf; this.buf = ''; return res(b); }
      const w = { re, res: (b) => { clearTimeout(t); res(b); } };
      const t = setTimeout(() => { this.waiters.splice(this.waiters.indexOf(w), 1); rej(new Error(`${this.o.user}: timeout waiting for ${re} (have ${this.buf.slice(-300)})`)); }, ms);
      this.waiters.push(w);
    });
  }

  send(s) {
    // RFC 7395 §3.3.3: no stream-level default namespace, so top-level stanzas carry jabber:client themselves
    if (this.ws) this.ws.send(s.replace(/^<(iq|message|presence)(?=[\s/>])(?![^>]*\bxmlns=)/, "<$1 xmlns='jabber:client'"));
    else this.sock.write(s);
  }

  stream() {
    const d = this.o.domain;
    if (this.ws) this.send(`<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='${d}' version='1.0'/>`);
    else this.send(`<?xml version='1.0'?><stream:stream to='${d}' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`);
  }

  async features() { return this.wait(/<\/stream:features>|<stream:features[^>]*\/>/); }

  /** XEP-0077 in-band registration (the server must allow it from loopback). Resolves true if created or already there. */
  async register() {
    await this.open();
    this.stream();
    await this.features();
    this.send(`<iq type='set' id='reg'><query xmlns='jabber:iq:register'><username>${this.o.user}</username><password>${this.o.password}</password></query></iq>`);
    const r = await this.wait(/id=['"]reg['"]/);
    this.close();
    if (/type=['"]result['"]/.test(r) || /conflict/.test(r)) return true;
    throw new Error(`register ${this.o.user}: ${r}`);
  }

  async login() {
    if (!this.ws && !this.sock) await this.open();
    this.stream();
    const f = await this.features();
    if (/SCRAM-SHA-1</.test(f)) await this.scram();
    else if (/>PLAIN</.test(f)) {
      this.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${this.o.user}\0${this.o.password}`).toString('base64')}</auth>`);
      const r = await this.wait(/<success|<failure/);
      if (!r.includes('<success')) throw new Error(`${this.o.user}: ${r}`);
    } else throw new Error(`no SCRAM-SHA-1 or PLAIN offered: ${f}`);
    this.stream();
    const f2 = await this.features();
    this.send(`<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${this.o.resource}</resource></bind></iq>`);
    const b = await this.wait(/id=['"]bind['"][\s\S]*<\/iq>|id=['"]bind['"][^>]*\/>/);
    this.jid = /<jid>([^<]+)<\/jid>/.exec(b)?.[1];
    if (!this.jid) throw new Error(`${this.o.user}: bind failed: ${b}`);
    // RFC 3921 sessions: only when the server still marks them mandatory (ejabberd/prosody mark them optional)
    if (/<session xmlns=['"]urn:ietf:params:xml:ns:xmpp-session['"]\s*>\s*(?!<optional)/.test(f2) && !/<optional\/>/.test(f2)) {
      this.send("<iq type='set' id='sess'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>");
      await this.wait(/id=['"]sess['"]/);
    }
    return this;
  }

  async scram() {
    const nonce = randomBytes(12).toString('base64');
    const bare = `n=${this.o.user},r=${nonce}`;
    this.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>${Buffer.from(`n,,${bare}`).toString('base64')}</auth>`);
    const ch = await this.wait(/<\/challenge>|<failure/);
    const m = /<challenge[^>]*>([^<]*)</.exec(ch);
    if (!m) throw new Error(`${this.o.user}: ${ch}`);
    const first = Buffer.from(m[1], 'base64').toString();
    const f = Object.fromEntries(first.split(',').map((kv) => [kv[0], kv.slice(2)]));
    const salted = await new Promise((res, rej) => pbkdf2(this.o.password, Buffer.from(f.s, 'base64'), Number(f.i), 20, 'sha1', (e, k) => (e ? rej(e) : res(k))));
    const withoutProof = `c=biws,r=${f.r}`;
    const auth = `${bare},${first},${withoutProof}`;
    const clientKey = createHmac('sha1', salted).update('Client Key').digest();
    const sig = createHmac('sha1', createHash('sha1').update(clientKey).digest()).update(auth).digest();
    const proof = Buffer.from(clientKey.map((b, i) => b ^ sig[i])).toString('base64');
    this.send(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>${Buffer.from(`${withoutProof},p=${proof}`).toString('base64')}</response>`);
    const r = await this.wait(/<success[\s\S]*?(<\/success>|\/>)|<failure[\s\S]*<\/failure>/);
    if (!r.includes('<success')) throw new Error(`${this.o.user}: ${r}`);
  }

  /** Fetch the roster (RFC 6121 §2.2): makes the session "interested", so subscription requests are pushed to it. */
  async roster() {
    this.send("<iq type='get' id='roster'><query xmlns='jabber:iq:roster'/></iq>");
    await this.wait(/id=['"]roster['"]/);
  }

  /** Available presence; with caps features, a XEP-0115 <c/> whose disco#info queries this client answers. */
  presence(capsFeatures) {
    if (capsFeatures) this.caps = [NS_DISCO_INFO, 'http://jabber.org/protocol/caps', ...capsFeatures];
    const c = this.caps ? `<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='${CAPS_NODE}' ver='${capsVer(this.caps)}'/>` : '';
    this.send(`<presence>${c}</presence>`);
  }

  answerPings(d) {
    const s = this.iqCarry + d;
    this.iqCarry = '';
    const re = /<iq\b[^>]*>\s*<ping\s+xmlns=['"]urn:xmpp:ping['"]\s*\/>/g;
    let end = 0;
    for (let m; (m = re.exec(s));) {
      end = re.lastIndex;
      const s0 = m[0];
      if (!/type=['"]get['"]/.test(s0)) continue;
      const attr = (n) => new RegExp(`\\b${n}=["']([^"']*)["']`).exec(s0)?.[1];
      const from = attr('from');
      this.send(`<iq type='result' id='${xmlEsc(attr('id') ?? '')}'${from ? ` to='${xmlEsc(from)}'` : ''}/>`);
    }
    // An IQ whose start came in this read but not its payload: keep it (a ping is short) for the next read.
    const last = s.lastIndexOf('<iq');
    if (last >= end && last >= 0 && s.length - last < 1024 && s.indexOf('</iq>', last) < 0 && !/^<iq\b[^>]*\/>/.test(s.slice(last))) this.iqCarry = s.slice(last);
    else if (s.endsWith('<') || s.endsWith('<i')) this.iqCarry = s.slice(s.lastIndexOf('<'));
  }

  answerDisco(d) {
    const re = /<iq\b[^>]*>\s*<query\b[^>]*disco#info[^>]*>/g;
    for (let m; (m = re.exec(d));) {
      const s = m[0];
      if (!/type=['"]get['"]/.test(s)) continue;
      const attr = (n) => new RegExp(`\\b${n}=["']([^"']*)["']`).exec(s)?.[1];
      const node = attr('node');
      const feats = this.caps.map((f) => `<feature var='${xmlEsc(f)}'/>`).join('');
      this.send(`<iq type='result' id='${xmlEsc(attr('id'))}' to='${xmlEsc(attr('from'))}'><query xmlns='${NS_DISCO_INFO}'${node ? ` node='${xmlEsc(node)}'` : ''}><identity category='client' type='pc'/>${feats}</query></iq>`);
    }
  }

  close() {
    try { if (this.ws) this.ws.terminate(); else this.sock?.destroy(); } catch { /* gone */ }
  }
}

/** Run fn(i) for i in [0, n) with conc at a time. */
export async function pool(n, conc, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(conc, n) }, async () => { for (let i; (i = next++) < n;) await fn(i); }));
}

/** A sink that hands fn only text ending at a tag boundary (a TCP read may end inside a tag). */
export function wholeTags(fn) {
  let carry = '';
  return (d) => {
    const all = carry + d;
    const cut = all.lastIndexOf('>') + 1;
    carry = all.slice(cut);
    if (cut > 0) fn(all.slice(0, cut));
  };
}

/** A sink that hands fn(text, now) only whole <message/> stanzas (a TCP read may end inside one). */
export function wholeMessages(fn) {
  let carry = '';
  return (d) => {
    const all = carry + d;
    const cut = all.lastIndexOf('</message>') + 10;
    if (cut < 10) { carry = all; return; }
    carry = all.slice(cut);
    fn(all.slice(0, cut), performance.now());
  };
}

/** Count occurrences of needle in s. */
export function count(s, needle) { let n = 0, i = -1; while ((i = s.indexOf(needle, i + 1)) >= 0) n++; return n; }

/** Percentile of a sorted array (ms, one decimal). */
export function pct(sorted, p) { return sorted.length ? +sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))].toFixed(1) : null; }

/** Parse --key value / --flag arguments over defaults (numbers stay numbers). */
export function args(defaults, flags = []) {
  const a = { ...defaults };
  for (let i = 2; i < process.argv.length; i++) {
    const k = process.argv[i].replace(/^--/, '');
    if (flags.includes(k)) a[k] = true;
    else { const v = process.argv[++i]; a[k] = typeof defaults[k] === 'number' ? Number(v) : v; }
  }
  return a;
}
