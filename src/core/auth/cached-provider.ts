// auth.cache_ttl: remembers a provider's positive answers for a while, so a busy site does not ask its
// external program on every login. Passwords are kept only as salted SHA-256 digests, in memory.
import { createHash, randomBytes } from 'node:crypto';
import type { Jid } from '../jid.js';
import type { AuthCapabilities, AuthProvider } from './auth-provider.js';
import type { StoredCredentials } from '../sasl/scram-credentials.js';

/** Bound the memory a flood of distinct logins can take. */
const MAX_ENTRIES = 10_000;

export class CachedAuthProvider implements AuthProvider {
  readonly name: string;
  readonly capabilities: AuthCapabilities;
  private readonly salt = randomBytes(16);
  /** bare JID -> (password digest -> expiry) */
  private readonly passwords = new Map<string, Map<string, number>>();
  /** bare JID -> expiry of a "yes, exists" */
  private readonly existing = new Map<string, number>();

  constructor(readonly inner: AuthProvider, private readonly ttlMs: number) {
    this.name = inner.name;
    this.capabilities = inner.capabilities;
    // Optional methods exist here exactly when the inner provider has them.
    if (!inner.credentials) this.credentials = undefined;
    if (!inner.checkPassword) this.checkPassword = undefined;
    if (!inner.create) this.create = undefined;
    if (!inner.setPassword) this.setPassword = undefined;
    if (!inner.remove) this.remove = undefined;
    if (!inner.list) this.list = undefined;
  }

  credentials? = (bare: Jid): Promise<StoredCredentials | null> => this.inner.credentials!(bare);

  checkPassword? = async (bare: Jid, password: string): Promise<boolean> => {
    const key = bare.bareString();
    const digest = createHash('sha256').update(this.salt).update(key).update('\0').update(password).digest('base64');
    const now = Date.now();
    if ((this.passwords.get(key)?.get(digest) ?? 0) > now) return true;
    const ok = await this.inner.checkPassword!(bare, password);
    if (ok) {
      this.room(this.passwords);
      let m = this.passwords.get(key);
      if (!m) this.passwords.set(key, (m = new Map()));
      m.set(digest, now + this.ttlMs);
      this.existing.set(key, now + this.ttlMs);
    }
    return ok;
  };

  async userExists(bare: Jid): Promise<boolean> {
    const key = bare.bareString();
    if ((this.existing.get(key) ?? 0) > Date.now()) return true;
    const yes = await this.inner.userExists(bare);
    if (yes) {
      this.room(this.existing);
      this.existing.set(key, Date.now() + this.ttlMs);
    }
    return yes;
  }

  create? = async (bare: Jid, password: string): Promise<void> => {
    this.forget(bare);
    await this.inner.create!(bare, password);
  };

  setPassword? = async (bare: Jid, password: string): Promise<void> => {
    this.forget(bare); // the old password must stop working at once
    await this.inner.setPassword!(bare, password);
  };

  remove? = async (bare: Jid): Promise<void> => {
    this.forget(bare);
    await this.inner.remove!(bare);
  };

  list? = (host: string): Promise<string[]> => this.inner.list!(host);

  stop(): Promise<void> {
    this.passwords.clear();
    this.existing.clear();
    return this.inner.stop?.() ?? Promise.resolve();
  }

  private forget(bare: Jid): void {
    this.passwords.delete(bare.bareString());
    this.existing.delete(bare.bareString());
  }

  /** Make room for one more entry: drop expired ones, and everything if that is not enough. */
  private room(map: Map<string, unknown>): void {
    if (map.size < MAX_ENTRIES) return;
    const now = Date.now();
    for (const [k, v] of map) {
      const exp = v instanceof Map ? Math.max(0, ...v.values()) : (v as number);
      if (exp <= now) map.delete(k);
    }
    if (map.size >= MAX_ENTRIES) map.clear();
  }
}
