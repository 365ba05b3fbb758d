// SASL PLAIN (RFC 4616) against stored SCRAM keys has to run PBKDF2 (RFC 5802 §3) on every login: this
// remembers, in memory and per host, which password an account last proved against which stored key, so a
// client that logs in again with the same password costs one HMAC instead.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

interface Entry {
  /** HMAC of the account and password under this process's secret: never the password itself. */
  tag: Buffer;
  /** The stored credential the password was checked against: a new password, salt or count misses. */
  credential: string;
  expires: number;
}

/**
 * Why this is safe: only a successful PBKDF2 check adds an entry, so a wrong password always pays the full
 * cost (no faster guessing); an entry counts only while the account still has the very stored key it was
 * verified against, which is read on every login anyway (a password change, reset or account re-creation
 * misses at once); the tag is keyed by a random secret that never leaves the process (a restart forgets
 * everything). Someone who can read the process's memory learns enough to guess these accounts' passwords at
 * HMAC speed rather than PBKDF2 speed, but such a reader also sees every PLAIN password as it arrives.
 */
export class VerifiedPasswords {
  private readonly secret = randomBytes(32);
  /** username -> entry, oldest use first (a hit moves it to the end). */
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly maxEntries = 10_000, private readonly ttlMs = 10 * 60_000) {}

  /** Whether `password` (SASLprepped) was verified for `username` against `credential` (its stored key) lately. */
  has(username: string, password: string, credential: string): boolean {
    const e = this.entries.get(username);
    if (!e) return false;
    this.entries.delete(username);
    if (e.expires <= Date.now() || e.credential !== credential) return false;
    if (!timingSafeEqual(e.tag, this.tag(username, password))) return false;
    this.entries.set(username, e);
    return true;
  }

  /** `password` was just verified by PBKDF2 for `username` against `credential`. */
  remember(username: string, password: string, credential: string): void {
    this.entries.delete(username);
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(username, { tag: this.tag(username, password), credential, expires: Date.now() + this.ttlMs });
  }

  get size(): number {
    return this.entries.size;
  }

  private tag(username: string, password: string): Buffer {
    return createHmac('sha256', this.secret).update(username).update('\0').update(password).digest();
  }
}
