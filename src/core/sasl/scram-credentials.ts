// SCRAM stored credentials (RFC 5802 §3, RFC 7677) and SASLprep (RFC 4013) of usernames/passwords.
// The accounts table keeps only salt, iteration count, StoredKey and ServerKey: never the password.
import * as nodeCrypto from 'node:crypto';
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import saslprep from 'saslprep';

export type ScramHash = 'SHA-1' | 'SHA-256';

export interface ScramCredential {
  salt: string; // base64
  iterations: number;
  storedKey: string; // base64
  serverKey: string; // base64
}

/** What the accounts table stores for a user. */
export interface StoredCredentials {
  scram: Partial<Record<ScramHash, ScramCredential>>;
}

/** RFC 7677 §4 asks for at least 4096 iterations. */
export const DEFAULT_ITERATIONS = 4096;
const SALT_BYTES = 16;

/** node:crypto digest name and output length of each SCRAM hash. */
export const SCRAM_HASH_INFO: Record<ScramHash, { digest: 'sha1' | 'sha256'; length: number }> = {
  'SHA-1': { digest: 'sha1', length: 20 },
  'SHA-256': { digest: 'sha256', length: 32 },
};

export class SaslPrepError extends Error {
  readonly code = 'XMPPD_ERR_SASLPREP';
  constructor(readonly field: string, readonly reason: string) {
    // Never include the input itself: it may be a password.
    super(`${field} is not valid under SASLprep (RFC 4013): ${reason}`);
    this.name = 'SaslPrepError';
  }
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** SASLprep (RFC 4013) for stored strings: unassigned code points are refused too (§2.5), so a
 *  string that prepares now prepares identically after a Unicode update. */
export function saslPrep(input: string, field = 'string'): string {
  // Printable ASCII (U+0020-U+007E) is left unchanged by every SASLprep step (no mapping, NFKC identity,
  // nothing prohibited, no RandALCat): skip the library's per-code-point tables (one call per login).
  if (PRINTABLE_ASCII.test(input)) return input;
  try {
    return saslprep(input);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    // The library appends ", see <url>"; the reason alone is clearer in an operator message.
    throw new SaslPrepError(field, msg.replace(/,? see https?:\/\/\S+$/, '').trim());
  }
}

const pbkdf2Async = promisify(pbkdf2);

/** crypto.hash (Node >= 20.12): a one-shot digest at about a third of a Hash object's cost. */
const oneShotHash = (nodeCrypto as { hash?: (alg: string, data: Buffer, enc: 'buffer') => Buffer }).hash;

export function hmac(hash: ScramHash, key: Buffer, data: Buffer | string): Buffer {
  return createHmac(SCRAM_HASH_INFO[hash].digest, key).update(data).digest();
}

export function digest(hash: ScramHash, data: Buffer): Buffer {
  const alg = SCRAM_HASH_INFO[hash].digest;
  return oneShotHash ? oneShotHash(alg, data, 'buffer') : createHash(alg).update(data).digest();
}

/** SaltedPassword := Hi(Normalize(password), salt, i) — Hi is PBKDF2 with HMAC (RFC 5802 §2.2). */
export function saltedPassword(hash: ScramHash, preparedPassword: string, salt: Buffer, iterations: number): Promise<Buffer> {
  const { digest: d, length } = SCRAM_HASH_INFO[hash];
  return pbkdf2Async(Buffer.from(preparedPassword, 'utf8'), salt, iterations, length, d);
}

/** ClientKey, StoredKey and ServerKey from SaltedPassword (RFC 5802 §3). */
export function scramKeys(hash: ScramHash, salted: Buffer): { clientKey: Buffer; storedKey: Buffer; serverKey: Buffer } {
  const clientKey = hmac(hash, salted, 'Client Key');
  return { clientKey, storedKey: digest(hash, clientKey), serverKey: hmac(hash, salted, 'Server Key') };
}

function checkIterations(iterations: number): void {
  if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > 0xffffffff) {
    throw new RangeError(`SCRAM iteration count must be a positive integer, got ${iterations}`);
  }
}

/** Derives the SCRAM credentials to store for a new or changed password. */
export async function deriveCredentials(
  password: string,
  opts: { iterations?: number; hashes?: ScramHash[]; salt?: Buffer } = {},
): Promise<StoredCredentials> {
  const iterations = opts.iterations ?? DEFAULT_ITERATIONS;
  checkIterations(iterations);
  const hashes = [...new Set(opts.hashes ?? (['SHA-256', 'SHA-1'] as ScramHash[]))];
  if (hashes.length === 0) throw new RangeError('deriveCredentials needs at least one SCRAM hash');
  for (const h of hashes) {
    if (!Object.hasOwn(SCRAM_HASH_INFO, h)) throw new RangeError(`unsupported SCRAM hash ${String(h)}`);
  }
  const prepared = saslPrep(password, 'password');
  if (prepared === '') throw new SaslPrepError('password', 'empty after preparation');
  const scram: Partial<Record<ScramHash, ScramCredential>> = {};
  await Promise.all(hashes.map(async (hash) => {
    // Each hash gets its own salt unless one is forced (test vectors, migrations).
    const salt = opts.salt ?? randomBytes(SALT_BYTES);
    const { storedKey, serverKey } = scramKeys(hash, await saltedPassword(hash, prepared, salt, iterations));
    scram[hash] = {
      salt: salt.toString('base64'),
      iterations,
      storedKey: storedKey.toString('base64'),
      serverKey: serverKey.toString('base64'),
    };
  }));
  return { scram };
}

/** Decodes a stored credential; null when it is unusable (wrong key length, bad count...). */
export function decodeCredential(hash: ScramHash, cred: ScramCredential | undefined):
  { salt: Buffer; iterations: number; storedKey: Buffer; serverKey: Buffer } | null {
  if (!cred || typeof cred.salt !== 'string' || typeof cred.storedKey !== 'string' || typeof cred.serverKey !== 'string') return null;
  const salt = Buffer.from(cred.salt, 'base64');
  const storedKey = Buffer.from(cred.storedKey, 'base64');
  const serverKey = Buffer.from(cred.serverKey, 'base64');
  const len = SCRAM_HASH_INFO[hash].length;
  if (salt.length === 0 || storedKey.length !== len || serverKey.length !== len) return null;
  if (!Number.isSafeInteger(cred.iterations) || cred.iterations < 1 || cred.iterations > 0xffffffff) return null;
  return { salt, iterations: cred.iterations, storedKey, serverKey };
}

/** Checks a plaintext password (SASL PLAIN) against stored SCRAM credentials by recomputing
 *  StoredKey; the SHA-256 credential is preferred when both exist. */
export async function verifyPassword(password: string, creds: StoredCredentials): Promise<boolean> {
  let prepared: string;
  try {
    prepared = saslPrep(password, 'password');
  } catch {
    return false; // stored passwords always prepared, so this one cannot match
  }
  if (prepared === '') return false;
  const hash: ScramHash | undefined = creds?.scram?.['SHA-256'] ? 'SHA-256' : creds?.scram?.['SHA-1'] ? 'SHA-1' : undefined;
  if (!hash) return false;
  const cred = decodeCredential(hash, creds.scram[hash]);
  if (!cred) return false;
  const { storedKey } = scramKeys(hash, await saltedPassword(hash, prepared, cred.salt, cred.iterations));
  return timingSafeEqual(storedKey, cred.storedKey);
}

// Per-process secret for fake credentials: stable within a run, so repeated probes for the same
// unknown user see the same salt (as for a real user), yet unpredictable across restarts.
const FAKE_SECRET = randomBytes(32);

/** Deterministic-per-username credentials for unknown users (RFC 5802 §9 suggests this), so an
 *  exchange for a missing account looks like one for an existing account until the proof fails. */
export function fakeCredential(username: string, hash: ScramHash, iterations = DEFAULT_ITERATIONS): ScramCredential {
  const derive = (label: string, len: number): string =>
    createHmac('sha256', FAKE_SECRET).update(`${label}\0${hash}\0`).update(username, 'utf8').digest()
      .subarray(0, len).toString('base64');
  const len = SCRAM_HASH_INFO[hash].length;
  return { salt: derive('salt', SALT_BYTES), iterations, storedKey: derive('stored', len), serverKey: derive('server', len) };
}
