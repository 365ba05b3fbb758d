// A tiny authoritative DNS server on loopback (RFC 1035 §4 messages over UDP and TCP, RFC 2782 SRV,
// RFC 3596 AAAA) so that peers in tests resolve test domains without the system resolver.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import { isIPv4, isIPv6 } from 'node:net';

export interface SrvData { priority: number; weight: number; port: number; target: string }
export type DnsRecord =
  | { type: 'A'; address: string }
  | { type: 'AAAA'; address: string }
  | { type: 'SRV'; srv: SrvData };

const TYPE = { A: 1, AAAA: 28, SRV: 33 } as const;

/**
 * Names it knows answer NOERROR (with the records of the asked type, possibly none); other names
 * answer NXDOMAIN. TTLs are 0 so resolvers do not cache what a test may change.
 */
export class DnsResponder {
  private readonly records = new Map<string, DnsRecord[]>();
  private udp: UdpSocket | null = null;
  private tcp: Server | null = null;
  private readonly conns = new Set<Socket>();
  port = 0;
  /** Every question asked, as 'TYPE name' (for assertions and debugging). */
  readonly queries: string[] = [];

  set(name: string, records: DnsRecord[]): this {
    this.records.set(norm(name), records);
    return this;
  }

  delete(name: string): this {
    this.records.delete(norm(name));
    return this;
  }

  /** An A (or AAAA) record for host and SRV records for _xmpp-server/_xmpps-server of domain. */
  xmppServer(domain: string, opts: { host?: string; address?: string; port?: number; tlsPort?: number }): this {
    const host = opts.host ?? domain;
    const address = opts.address ?? '127.0.0.1';
    this.set(host, [isIPv6(address) ? { type: 'AAAA', address } : { type: 'A', address }]);
    if (opts.port) this.set(`_xmpp-server._tcp.${domain}`, [{ type: 'SRV', srv: { priority: 0, weight: 5, port: opts.port, target: host } }]);
    if (opts.tlsPort) this.set(`_xmpps-server._tcp.${domain}`, [{ type: 'SRV', srv: { priority: 0, weight: 5, port: opts.tlsPort, target: host } }]);
    return this;
  }

  /** Listen on 127.0.0.1 (UDP and TCP on the same port). */
  async start(port = 0): Promise<number> {
    const tcp = createServer((sock) => this.serveTcp(sock));
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(port, '127.0.0.1', () => resolve());
    });
    this.tcp = tcp;
    this.port = (tcp.address() as { port: number }).port;
    const udp = createSocket('udp4');
    udp.on('message', (msg, rinfo) => {
      const reply = this.answer(msg);
      if (reply) udp.send(reply, rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(this.port, '127.0.0.1', () => resolve());
    });
    this.udp = udp;
    return this.port;
  }

  async stop(): Promise<void> {
    for (const c of this.conns) c.destroy();
    await new Promise<void>((r) => (this.udp ? this.udp.close(() => r()) : r()));
    await new Promise<void>((r) => (this.tcp ? this.tcp.close(() => r()) : r()));
    this.udp = null;
    this.tcp = null;
  }

  private serveTcp(sock: Socket): void {
    this.conns.add(sock);
    sock.on('close', () => this.conns.delete(sock));
    sock.on('error', () => {});
    let buf = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const reply = this.answer(buf.subarray(2, 2 + len));
        buf = buf.subarray(2 + len);
        if (reply) {
          const head = Buffer.alloc(2);
          head.writeUInt16BE(reply.length);
          sock.write(Buffer.concat([head, reply]));
        }
      }
    });
  }

  /** One query -> one response (RFC 1035 §4.1), or null for garbage. */
  private answer(msg: Buffer): Buffer | null {
    if (msg.length < 12) return null;
    const id = msg.readUInt16BE(0);
    const flags = msg.readUInt16BE(2);
    if (flags & 0x8000 || msg.readUInt16BE(4) !== 1) return null; // a response, or not one question
    let off = 12;
    const labels: string[] = [];
    for (;;) {
      const len = msg[off];
      if (len === undefined || len > 63) return null;
      off++;
      if (len === 0) break;
      labels.push(msg.toString('latin1', off, off + len));
      off += len;
    }
    if (off + 4 > msg.length) return null;
    const qtype = msg.readUInt16BE(off);
    const question = msg.subarray(12, off + 4);
    const name = norm(labels.join('.'));
    const typeName = (Object.keys(TYPE) as Array<keyof typeof TYPE>).find((k) => TYPE[k] === qtype) ?? String(qtype);
    this.queries.push(`${typeName} ${name}`);
    const known = this.records.get(name);
    const answers = (known ?? []).filter((r) => TYPE[r.type] === qtype).map((r) => rr(r));
    const header = Buffer.alloc(12);
    header.writeUInt16BE(id, 0);
    // QR, opcode copied, AA, RD copied, RA; RCODE 3 (NXDOMAIN) for unknown names.
    header.writeUInt16BE(0x8000 | (flags & 0x7800) | 0x0400 | (flags & 0x0100) | 0x0080 | (known ? 0 : 3), 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    return Buffer.concat([header, question, ...answers]);
  }
}

function norm(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

function encodeName(name: string): Buffer {
  const parts = norm(name).split('.').filter(Boolean).map((l) => {
    const b = Buffer.from(l, 'latin1');
    return Buffer.concat([Buffer.from([b.length]), b]);
  });
  return Buffer.concat([...parts, Buffer.from([0])]);
}

/** A resource record whose owner is a pointer to the question name (offset 12). */
function rr(r: DnsRecord): Buffer {
  let rdata: Buffer;
  if (r.type === 'A') {
    if (!isIPv4(r.address)) throw new Error(`${r.address} is not IPv4`);
    rdata = Buffer.from(r.address.split('.').map(Number));
  } else if (r.type === 'AAAA') {
    rdata = ipv6Bytes(r.address);
  } else {
    const head = Buffer.alloc(6);
    head.writeUInt16BE(r.srv.priority, 0);
    head.writeUInt16BE(r.srv.weight, 2);
    head.writeUInt16BE(r.srv.port, 4);
    rdata = Buffer.concat([head, encodeName(r.srv.target === '.' ? '' : r.srv.target)]);
  }
  const fixed = Buffer.alloc(12);
  fixed.writeUInt16BE(0xc00c, 0);
  fixed.writeUInt16BE(TYPE[r.type], 2);
  fixed.writeUInt16BE(1, 4); // IN
  fixed.writeUInt32BE(0, 6); // TTL 0: never cached
  fixed.writeUInt16BE(rdata.length, 10);
  return Buffer.concat([fixed, rdata]);
}

function ipv6Bytes(addr: string): Buffer {
  if (!isIPv6(addr)) throw new Error(`${addr} is not IPv6`);
  const [head, tail] = addr.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}
