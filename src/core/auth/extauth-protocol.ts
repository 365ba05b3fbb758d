// ejabberd's external authentication protocol (ejabberd docs "External Authentication", extauth.erl):
// each request is a 2-byte big-endian length then `op:user:server[:password]`; each answer is a 2-byte
// length (always 2) then a 2-byte big-endian 0 (false) or 1 (true).

export type ExtauthOp = 'auth' | 'isuser' | 'setpass' | 'tryregister' | 'removeuser' | 'removeuser3';

/** The protocol's frames carry at most 65535 bytes. */
export const MAX_FRAME = 0xffff;

export class ExtauthProtocolError extends Error {}

/**
 * One request frame. The user is a JID localpart and the server a host name, neither of which can hold
 * ':' (RFC 7622 §3.3.1 forbids it in localparts; hosts are DNS names), so a program splits on the first
 * three colons and takes the rest, colons included, as the password - as ejabberd's own scripts do.
 */
export function encodeRequest(op: ExtauthOp, user: string, server: string, password?: string): Buffer {
  if (user.includes(':') || server.includes(':')) throw new ExtauthProtocolError('user and server cannot contain ":" in the extauth protocol');
  const body = Buffer.from(password === undefined ? `${op}:${user}:${server}` : `${op}:${user}:${server}:${password}`, 'utf8');
  if (body.length > MAX_FRAME) throw new ExtauthProtocolError(`request of ${body.length} bytes exceeds the extauth frame limit of ${MAX_FRAME}`);
  const frame = Buffer.allocUnsafe(2 + body.length);
  frame.writeUInt16BE(body.length, 0);
  body.copy(frame, 2);
  return frame;
}

/** Splits a program's stdout into answers; anything but a 2-byte 0/1 answer is a protocol error. */
export class ReplyReader {
  private buf: Buffer = Buffer.alloc(0);

  /** The complete answers in `chunk` (with what was left over before it), in order. */
  push(chunk: Buffer): boolean[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: boolean[] = [];
    while (this.buf.length >= 2) {
      const len = this.buf.readUInt16BE(0);
      if (len !== 2) throw new ExtauthProtocolError(`answer of length ${len} (must be 2)`);
      if (this.buf.length < 4) break;
      const v = this.buf.readUInt16BE(2);
      if (v !== 0 && v !== 1) throw new ExtauthProtocolError(`answer value ${v} (must be 0 or 1)`);
      out.push(v === 1);
      this.buf = this.buf.subarray(4);
    }
    return out;
  }

  reset(): void {
    this.buf = Buffer.alloc(0);
  }
}
