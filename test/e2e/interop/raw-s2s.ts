// A hand-driven peer server for s2s protocol tests (RFC 6120 §4-§6, XEP-0178): open a jabber:server stream,
// STARTTLS presenting a client certificate, SASL EXTERNAL, then raw writes and waits on what arrives.
import { connect as netConnect } from 'node:net';
import { TextSocket } from '../../support/text-socket.js';

export class RawS2s extends TextSocket {
  static async connect(port: number): Promise<RawS2s> {
    const sock = netConnect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', () => resolve());
      sock.once('error', reject);
    });
    return new RawS2s(sock);
  }

  openStream(from: string | null, to: string): void {
    const f = from ? ` from='${from}'` : '';
    this.send(`<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback'${f} to='${to}' version='1.0'>`);
  }

  /** STARTTLS presenting `cert` (PEM) as the client certificate. */
  async starttls(servername: string, cert?: { certPem: string; keyPem: string }): Promise<void> {
    await this.upgradeToTls({ servername, ...(cert ? { cert: cert.certPem, key: cert.keyPem } : {}) });
  }

  /** Full negotiation up to an authenticated stream via SASL EXTERNAL (XEP-0178). */
  static async authenticated(port: number, from: string, to: string, cert: { certPem: string; keyPem: string }): Promise<RawS2s> {
    const s = await RawS2s.connect(port);
    s.openStream(from, to);
    await s.features();
    await s.starttls(to, cert);
    s.openStream(from, to);
    const f = await s.features();
    if (!f.includes('EXTERNAL')) throw new Error(`EXTERNAL not offered: ${f}`);
    s.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>${Buffer.from(from).toString('base64')}</auth>`);
    await s.expect(/<success xmlns=["']urn:ietf:params:xml:ns:xmpp-sasl["']\/>/);
    s.openStream(from, to);
    await s.features();
    return s;
  }

}
