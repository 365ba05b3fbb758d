// A minimal XMPP client over real sockets for protocol tests: raw writes, waits on what arrives, and the
// standard negotiation steps (STARTTLS, SASL incl. SCRAM -PLUS, bind) done by hand.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { ScramClient } from '../../src/core/sasl/scram-client.js';
import { tlsExporter, tlsServerEndPoint, tlsUnique } from '../../src/core/sasl/channel-binding.js';
import { TextSocket } from './text-socket.js';

export class RawClient extends TextSocket {
  /** `localAddress`: the client's own loopback address (such as 127.0.0.2), to appear as another client host. */
  static async connect(port: number, opts: { tls?: boolean; servername?: string; localAddress?: string } = {}): Promise<RawClient> {
    const local = opts.localAddress ? { localAddress: opts.localAddress } : {};
    const sock = opts.tls
      ? tlsConnect({ port, host: '127.0.0.1', ...local, servername: opts.servername ?? 'localhost', rejectUnauthorized: false, ALPNProtocols: ['xmpp-client'] })
      : netConnect({ port, host: '127.0.0.1', ...local });
    await new Promise<void>((resolve, reject) => {
      sock.once(opts.tls ? 'secureConnect' : 'connect', () => resolve());
      sock.once('error', reject);
    });
    return new RawClient(sock);
  }

  openStream(to = 'localhost'): void {
    this.send(`<?xml version='1.0'?><stream:stream to='${to}' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`);
  }

  async starttls(servername = 'localhost'): Promise<void> {
    await this.upgradeToTls({ servername });
  }

  /** SASL PLAIN; resolves to the server's answer element name (success/failure). */
  async authPlain(user: string, password: string): Promise<string> {
    const payload = Buffer.from(`\0${user}\0${password}`).toString('base64');
    this.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${payload}</auth>`);
    return (await this.expect(/<(success|failure)[\s\S]*?(?:\/>|<\/\1>)/))[0];
  }

  /** SCRAM (any variant); for -PLUS the binding data comes from this connection's TLS session. */
  async authScram(mechanism: string, user: string, password: string, cbType?: 'tls-exporter' | 'tls-server-end-point' | 'tls-unique' | (string & {}), cbOverride?: Buffer): Promise<string> {
    let cbData: Buffer | undefined;
    if (cbType === 'tls-unique') cbData = tlsUnique(this.tlsSocket, 'client') ?? undefined;
    if (cbType === 'tls-exporter') cbData = tlsExporter(this.tlsSocket) ?? undefined;
    if (cbType === 'tls-server-end-point' && !cbOverride) cbData = tlsServerEndPoint(this.tlsSocket.getPeerX509Certificate()!.raw) ?? undefined;
    if (cbOverride) cbData = cbOverride;
    const client = new ScramClient({ mechanism, username: user, password, cbType, cbData });
    this.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='${mechanism}'>${client.clientFirst().toString('base64')}</auth>`);
    const m = await this.expect(/<challenge xmlns=["']urn:ietf:params:xml:ns:xmpp-sasl["']>([^<]*)<\/challenge>|<failure[\s\S]*?<\/failure>/);
    if (!m[0].startsWith('<challenge')) return m[0];
    const final = await client.clientFinal(Buffer.from(m[1]!, 'base64'));
    this.send(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>${final.toString('base64')}</response>`);
    const r = await this.expect(/<success xmlns=["']urn:ietf:params:xml:ns:xmpp-sasl["']>([^<]*)<\/success>|<failure[\s\S]*?<\/failure>/);
    if (r[0].startsWith('<success')) client.verifyServerFinal(Buffer.from(r[1]!, 'base64'));
    return r[0];
  }

  /** Send an IQ and wait for the answer carrying its id (result or error, empty or not). */
  async iq(id: string, stanza: string): Promise<string> {
    this.send(stanza);
    return (await this.expect(new RegExp(`<iq[^>]*id=["']${id}["'][^>]*(?:/>|>[\\s\\S]*?</iq>)`)))[0];
  }

  async bind(resource?: string): Promise<string> {
    const res = resource ? `<resource>${resource}</resource>` : '';
    this.send(`<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>${res}</bind></iq>`);
    const m = await this.expect(/<iq[^>]*id=["']bind1["'][^>]*>[\s\S]*?<\/iq>|<iq[^>]*id=["']bind1["'][^>]*\/>/);
    const jid = /<jid>([^<]+)<\/jid>/.exec(m[0]);
    if (!jid) throw new Error(`bind failed: ${m[0]}`);
    return jid[1]!;
  }

  /** Connect (from `localAddress` if given), open the stream to `host` and upgrade it with STARTTLS: ready for SASL. */
  static async secured(port: number, opts: { localAddress?: string; host?: string } = {}): Promise<RawClient> {
    const c = await RawClient.connect(port, { localAddress: opts.localAddress });
    const host = opts.host ?? 'localhost';
    try {
      c.openStream(host);
      await c.features();
      await c.starttls(host);
      c.openStream(host);
      await c.features();
      return c;
    } catch (err) {
      c.close();
      throw err;
    }
  }

  /** Connect, STARTTLS, authenticate (SCRAM-SHA-256 by default), bind, send initial presence; opts.host: the virtual host (localhost). */
  static async login(port: number, user: string, password: string, resource?: string, opts: { presence?: boolean; localAddress?: string; host?: string } = {}): Promise<{ c: RawClient; jid: string }> {
    const c = await RawClient.secured(port, opts);
    const host = opts.host ?? 'localhost';
    try {
      const r = await c.authScram('SCRAM-SHA-256', user, password);
      if (!r.startsWith('<success')) throw new Error(`login failed: ${r}`);
      c.openStream(host);
      await c.features();
      const jid = await c.bind(resource);
      if (opts.presence !== false) c.send('<presence/>');
      return { c, jid };
    } catch (err) {
      c.close(); // a failed login must not leave its connection open
      throw err;
    }
  }

}
