// Test support: a minimal STUN/TURN client over UDP (RFC 8489 messages, RFC 8656 Allocate with long-term
// credentials) to see a TURN server's own answer to credentials: success, or its error code (401, 438).
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';

const MAGIC = 0x2112a442;
const ATTR = { USERNAME: 0x0006, MESSAGE_INTEGRITY: 0x0008, ERROR_CODE: 0x0009, REALM: 0x0014, NONCE: 0x0015, XOR_RELAYED_ADDRESS: 0x0016, REQUESTED_TRANSPORT: 0x0019 };
const BINDING = 0x0001;
const ALLOCATE = 0x0003;

interface Message { type: number; attrs: Map<number, Buffer> }

function encode(type: number, txid: Buffer, attrs: Array<[number, Buffer]>, integrityKey?: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (const [t, v] of attrs) {
    const head = Buffer.alloc(4);
    head.writeUInt16BE(t, 0);
    head.writeUInt16BE(v.length, 2);
    parts.push(head, v, Buffer.alloc((4 - (v.length % 4)) % 4));
  }
  const body = Buffer.concat(parts);
  const header = Buffer.alloc(20);
  header.writeUInt16BE(type, 0);
  header.writeUInt32BE(MAGIC, 4);
  txid.copy(header, 8);
  if (!integrityKey) {
    header.writeUInt16BE(body.length, 2);
    return Buffer.concat([header, body]);
  }
  // RFC 8489 §14.5: the HMAC covers the message up to the attribute, with the length counting it (24 bytes).
  header.writeUInt16BE(body.length + 24, 2);
  const mac = createHmac('sha1', integrityKey).update(Buffer.concat([header, body])).digest();
  const mi = Buffer.alloc(4);
  mi.writeUInt16BE(ATTR.MESSAGE_INTEGRITY, 0);
  mi.writeUInt16BE(20, 2);
  return Buffer.concat([header, body, mi, mac]);
}

function decode(buf: Buffer): { txid: Buffer; msg: Message } | null {
  if (buf.length < 20 || buf.readUInt32BE(4) !== MAGIC) return null;
  const attrs = new Map<number, Buffer>();
  const end = 20 + buf.readUInt16BE(2);
  for (let off = 20; off + 4 <= end;) {
    const t = buf.readUInt16BE(off);
    const len = buf.readUInt16BE(off + 2);
    attrs.set(t, buf.subarray(off + 4, off + 4 + len));
    off += 4 + len + ((4 - (len % 4)) % 4);
  }
  return { txid: buf.subarray(8, 20), msg: { type: buf.readUInt16BE(0), attrs } };
}

/** A UDP socket bound on loopback: one 5-tuple, one TURN session (its nonce belongs to it). */
async function openSocket(): Promise<Socket> {
  const sock = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, '127.0.0.1', () => resolve());
  });
  return sock;
}

/** Send one request and wait for its response (retransmitted every 500 ms, RFC 8489 §6.2.1 style). */
function transact(sock: Socket, port: number, type: number, attrs: Array<[number, Buffer]>, key?: Buffer, timeoutMs = 5000): Promise<Message> {
  const txid = randomBytes(12);
  const packet = encode(type, txid, attrs, key);
  return new Promise<Message>((resolve, reject) => {
    const send = () => sock.send(packet, port, '127.0.0.1');
    const done = () => {
      clearInterval(resend);
      clearTimeout(timer);
      sock.off('message', onMessage);
    };
    const onMessage = (buf: Buffer) => {
      const d = decode(buf);
      if (!d || !d.txid.equals(txid)) return;
      done();
      resolve(d.msg);
    };
    const resend = setInterval(send, 500);
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no STUN answer from 127.0.0.1:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on('message', onMessage);
    send();
  });
}

/** Whether a STUN server answers a Binding request on 127.0.0.1:port (readiness). */
export async function stunBinding(port: number, timeoutMs = 1000): Promise<boolean> {
  const sock = await openSocket();
  try {
    return await transact(sock, port, BINDING, [], undefined, timeoutMs).then((m) => m.type === 0x0101, () => false);
  } finally {
    sock.close();
  }
}

export interface AllocateOutcome {
  /** 200 for a success response, else the server's ERROR-CODE. */
  code: number;
  reason: string;
  /** The realm the server challenged with. */
  realm: string;
  /** The relayed transport address of a successful allocation ("127.0.0.1:49152"). */
  relayed?: string;
}

function errorOf(m: Message): { code: number; reason: string } {
  const e = m.attrs.get(ATTR.ERROR_CODE);
  if (!e) return { code: 0, reason: 'no ERROR-CODE' };
  return { code: e[2]! * 100 + e[3]!, reason: e.subarray(4).toString('utf8').replace(/\0+$/, '') };
}

/** A TURN Allocate (UDP relay) with long-term credentials: the 401 challenge first, then the signed request. */
export async function turnAllocate(port: number, username: string, password: string): Promise<AllocateOutcome> {
  const sock = await openSocket();
  try {
    return await allocateOn(sock, port, username, password);
  } finally {
    sock.close();
  }
}

async function allocateOn(sock: Socket, port: number, username: string, password: string): Promise<AllocateOutcome> {
  const transport: [number, Buffer] = [ATTR.REQUESTED_TRANSPORT, Buffer.from([17, 0, 0, 0])];
  const challenge = await transact(sock, port, ALLOCATE, [transport]);
  const realm = challenge.attrs.get(ATTR.REALM);
  const nonce = challenge.attrs.get(ATTR.NONCE);
  if (challenge.type !== 0x0113 || errorOf(challenge).code !== 401 || !realm || !nonce) throw new Error(`expected a 401 challenge with realm and nonce, got type 0x${challenge.type.toString(16)}`);
  // RFC 8489 §9.2.2: key = MD5(username ":" realm ":" password).
  const key = createHash('md5').update(`${username}:${realm.toString('utf8')}:${password}`).digest();
  const m = await transact(sock, port, ALLOCATE, [transport, [ATTR.USERNAME, Buffer.from(username, 'utf8')], [ATTR.REALM, realm], [ATTR.NONCE, nonce]], key);
  if (m.type === 0x0103) {
    const x = m.attrs.get(ATTR.XOR_RELAYED_ADDRESS);
    const relayed = x && x[1] === 0x01
      ? `${[0, 1, 2, 3].map((i) => x[4 + i]! ^ ((MAGIC >>> (24 - 8 * i)) & 0xff)).join('.')}:${x.readUInt16BE(2) ^ (MAGIC >>> 16)}`
      : undefined;
    return { code: 200, reason: 'success', realm: realm.toString('utf8'), ...(relayed && { relayed }) };
  }
  return { ...errorOf(m), realm: realm.toString('utf8') };
}
