// Random identifiers on the login path (RFC 6120 §4.7.3 stream IDs, RFC 5802 §5.1 SCRAM server nonces): cut
// from one CSPRNG buffer refilled 4 KiB at a time, as node's own randomUUID() caches its entropy, so a login
// makes one OpenSSL call per ~100 logins instead of three. Every byte is handed out once.
import { randomBytes, randomFillSync } from 'node:crypto';

const POOL = Buffer.allocUnsafe(4096);
let next = POOL.length;

/** `bytes` fresh random bytes, encoded (base64, base64url or hex). */
export function randomString(bytes: number, encoding: 'base64' | 'base64url' | 'hex'): string {
  if (bytes > 256) return randomBytes(bytes).toString(encoding);
  if (next + bytes > POOL.length) {
    randomFillSync(POOL);
    next = 0;
  }
  const s = POOL.toString(encoding, next, next + bytes);
  next += bytes;
  return s;
}
