// A small XMPP-over-BOSH client (XEP-0124, XEP-0206) for tests: raw HTTP POSTs of <body/> wrappers with request
// ids, an inbox of everything the server answered, an optional long-poll loop that keeps one request waiting
// (as BOSH clients do), and a SCRAM login with the stream restart.
import { Agent, request } from 'node:http';
import { ScramClient } from '../../src/core/sasl/scram-client.js';

export const NS_HTTPBIND = 'http://jabber.org/protocol/httpbind';
export const NS_XBOSH = 'urn:xmpp:xbosh';

export interface HttpAnswer { status: number; headers: Record<string, string | string[] | undefined>; body: string }

/** One POST (or another method) to the BOSH path. */
export function boshPost(port: number, body: string, opts: { path?: string; method?: string; headers?: Record<string, string>; agent?: Agent } = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: opts.path ?? '/http-bind', method: opts.method ?? 'POST', agent: opts.agent,
      headers: { 'content-type': 'text/xml; charset=utf-8', ...opts.headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

export interface CreateOptions { wait?: number; hold?: number; path?: string; rid?: number; ver?: string; /** login: no long-poll loop, no presence */ quiet?: boolean }

export class BoshClient {
  /** Everything the server answered, in the order the answers arrived (matched parts are consumed). */
  private inbox = '';
  private waiters: Array<() => void> = [];
  private polling = false;
  private stopped = false;
  readonly agent = new Agent({ keepAlive: true, maxSockets: 8 });
  /** The session creation response. */
  created = '';

  private constructor(readonly port: number, readonly path: string, readonly sid: string, public rid: number) {}

  static creationBody(host: string, rid: number, o: CreateOptions = {}): string {
    return `<body xmlns='${NS_HTTPBIND}' xmlns:xmpp='${NS_XBOSH}' content='text/xml; charset=utf-8' rid='${rid}' to='${host}' wait='${o.wait ?? 30}' hold='${o.hold ?? 1}' ver='${o.ver ?? '1.11'}' xmpp:version='1.0' xml:lang='en'/>`;
  }

  /** A new session (§7.1); resolves once the creation response (with the stream features) is in. */
  static async create(port: number, host: string, o: CreateOptions = {}): Promise<BoshClient> {
    const rid = o.rid ?? 1000 + Math.floor(Math.random() * 1e6);
    const r = await boshPost(port, BoshClient.creationBody(host, rid, o), { path: o.path });
    const sid = /\ssid=["']([^"']+)["']/.exec(r.body);
    if (!sid) throw new Error(`no session: ${r.body}`);
    const c = new BoshClient(port, o.path ?? '/http-bind', sid[1]!, rid + 1);
    c.created = r.body;
    c.push(r.body);
    return c;
  }

  /** The wrapper for `payload` with the next rid (or `rid`) and extra attributes. */
  wrap(payload: string, attrs = '', rid = this.rid++): string {
    return `<body xmlns='${NS_HTTPBIND}' xmlns:xmpp='${NS_XBOSH}' sid='${this.sid}' rid='${rid}'${attrs}>${payload}</body>`;
  }

  /** POST a raw body on this session's agent; the answer goes to the inbox too. */
  async raw(body: string): Promise<HttpAnswer> {
    const r = await boshPost(this.port, body, { path: this.path, agent: this.agent });
    this.push(r.body);
    return r;
  }

  /** Send stanzas with the next rid; resolves with the answer's body. */
  async send(payload: string, attrs = ''): Promise<string> {
    return (await this.raw(this.wrap(payload, attrs))).body;
  }

  /** Send without waiting for the answer (it reaches the inbox); a connection torn down by close() is no error. */
  fire(payload: string, attrs = ''): void {
    this.send(payload, attrs).catch(() => {});
  }

  /** Keep one empty request waiting at the server, as a BOSH client does, until stop(). */
  startPolling(): void {
    if (this.polling) return;
    this.polling = true;
    const loop = async (): Promise<void> => {
      while (!this.stopped) {
        const r = await this.raw(this.wrap('')).catch(() => null);
        if (!r || /type=["']terminate["']/.test(r.body)) break;
      }
      this.polling = false;
    };
    void loop();
  }

  private push(body: string): void {
    this.inbox += body;
    for (const w of this.waiters.splice(0)) w();
  }

  /** Wait until the inbox matches `re`; the match and everything before it are consumed. */
  async expect(re: RegExp, timeoutMs = 10_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.inbox);
      if (m) {
        this.inbox = this.inbox.slice(m.index + m[0].length);
        return m;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${re} (have: ${this.inbox.slice(0, 500)})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  /** SCRAM-SHA-256 over this session; then the stream restart (XEP-0206 §5) and its features. */
  async authScram(user: string, password: string): Promise<void> {
    await this.expect(/<mechanism>SCRAM-SHA-256<\/mechanism>/);
    const client = new ScramClient({ mechanism: 'SCRAM-SHA-256', username: user, password });
    this.fire(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>${client.clientFirst().toString('base64')}</auth>`);
    const ch = await this.expect(/<challenge xmlns=["']urn:ietf:params:xml:ns:xmpp-sasl["']>([^<]*)<\/challenge>|<failure[\s\S]*?<\/failure>/);
    if (!ch[0].startsWith('<challenge')) throw new Error(`SASL failed: ${ch[0]}`);
    const final = await client.clientFinal(Buffer.from(ch[1]!, 'base64'));
    this.fire(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>${final.toString('base64')}</response>`);
    const ok = await this.expect(/<success xmlns=["']urn:ietf:params:xml:ns:xmpp-sasl["']>([^<]*)<\/success>|<failure[\s\S]*?<\/failure>/);
    if (!ok[0].startsWith('<success')) throw new Error(`SASL failed: ${ok[0]}`);
    client.verifyServerFinal(Buffer.from(ok[1]!, 'base64'));
    this.fire('', ` xmpp:restart='true'`);
    await this.expect(/<stream:features[\s\S]*?<bind xmlns=["']urn:ietf:params:xml:ns:xmpp-bind["']/);
  }

  async bind(resource: string): Promise<string> {
    this.fire(`<iq type='set' id='bind1' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`);
    const m = await this.expect(/<iq[^>]*id=["']bind1["'][^>]*>[\s\S]*?<\/iq>/);
    const jid = /<jid>([^<]+)<\/jid>/.exec(m[0]);
    if (!jid) throw new Error(`bind failed: ${m[0]}`);
    return jid[1]!;
  }

  /** Create, authenticate, restart, bind, send initial presence, and keep a request waiting. */
  static async login(port: number, host: string, user: string, password: string, resource = 'bosh', o: CreateOptions = {}): Promise<{ c: BoshClient; jid: string }> {
    const c = await BoshClient.create(port, host, o);
    await c.authScram(user, password);
    const jid = await c.bind(resource);
    if (!o.quiet) {
      c.startPolling();
      c.fire(`<presence xmlns='jabber:client'/>`);
    }
    return { c, jid };
  }

  /** type='terminate' (§13) with an unavailable presence; stops the poll loop. */
  async terminate(): Promise<string> {
    this.stopped = true;
    const body = await this.send(`<presence type='unavailable' xmlns='jabber:client'/>`, ` type='terminate'`);
    this.agent.destroy();
    return body;
  }

  close(): void {
    this.stopped = true;
    this.agent.destroy();
  }
}
