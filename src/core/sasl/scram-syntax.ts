// Shared SCRAM message syntax (RFC 5802 §7): attribute lists, saslname escaping, nonces, strict
// base64, plus the authzid check used by both PLAIN and SCRAM (RFC 6120 §6.3.8).

/** A cap on one SASL message: generous for a 1023-byte localpart escaped, small enough to bound work. */
export const MAX_SASL_MESSAGE = 8192;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Strict UTF-8 decode; null on invalid bytes or NUL (never valid inside SCRAM/PLAIN fields we split). */
export function decodeUtf8(buf: Buffer, allowNul = false): string | null {
  try {
    const s = utf8.decode(buf);
    if (!allowNul && s.includes('\0')) return null;
    return s;
  } catch {
    return null;
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Strict base64 (RFC 4648 §4): Buffer.from() silently skips junk, which would hide syntax errors, and
 * ignores non-zero pad bits (RFC 4648 §3.5), which would let several spellings decode to one value.
 */
export function decodeBase64(s: string): Buffer | null {
  if (!BASE64.test(s)) return null;
  const b = Buffer.from(s, 'base64');
  return b.toString('base64') === s ? b : null;
}

/** saslname escaping: ',' -> '=2C' and '=' -> '=3D' (RFC 5802 §5.1, "n"). */
export function escapeSaslName(s: string): string {
  return s.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

/** Reverses escapeSaslName; null when a '=' is not followed by 2C or 3D (must fail, RFC 5802 §5.1). */
export function unescapeSaslName(s: string): string | null {
  if (s === '' || s.includes(',')) return null;
  let bad = false;
  const out = s.replace(/=(..)?/gs, (_m, code: string | undefined) => {
    if (code === '2C') return ',';
    if (code === '3D') return '=';
    bad = true;
    return '';
  });
  return bad ? null : out;
}

/** printable = %x21-2B / %x2D-7E (RFC 5802 §7): the nonce alphabet. */
export function isNonce(s: string): boolean {
  return /^[\x21-\x2b\x2d-\x7e]+$/.test(s);
}

export interface Attr {
  name: string;
  value: string;
}

/** Splits "a=v,b=w" into attributes: one ALPHA name, '=', a non-empty value (RFC 5802 §7 attr-val). */
export function parseAttrs(s: string): Attr[] | null {
  const attrs: Attr[] = [];
  for (const part of s.split(',')) {
    if (!/^[A-Za-z]=./s.test(part)) return null;
    attrs.push({ name: part[0]!, value: part.slice(2) });
  }
  return attrs;
}

export function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/**
 * An authzid is accepted only when it names the authenticating user's own bare JID: we do not
 * implement proxy authorization. The localpart is compared case-insensitively (the JID layer does
 * the full PRECIS comparison); the domain only when the caller told us which host this is.
 */
export function authzidAllowed(authzid: string, username: string, domain?: string): boolean {
  if (authzid.includes('/')) return false;
  const at = authzid.indexOf('@');
  if (at <= 0) return false;
  const local = authzid.slice(0, at);
  const host = authzid.slice(at + 1);
  if (host === '' || host.includes('@')) return false;
  if (local.normalize('NFC').toLowerCase() !== username.normalize('NFC').toLowerCase()) return false;
  if (domain !== undefined) {
    const norm = (d: string) => d.toLowerCase().replace(/\.$/, '');
    if (norm(host) !== norm(domain)) return false;
  }
  return true;
}
