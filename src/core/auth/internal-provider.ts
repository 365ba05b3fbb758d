// The internal provider (default): accounts in the server's own table as stored SCRAM keys (RFC 5802 §3,
// RFC 7677); never a plaintext password, so SCRAM, SCRAM-PLUS and PLAIN can all be offered.
import { Accounts } from '../accounts.js';
import { HookRunner } from '../hooks/hook-runner.js';
import { silentLogger } from '../log.js';
import type { Jid } from '../jid.js';
import type { Store } from '../../data/index.js';
import { SaslPrepError, saslPrep, verifyPassword, type StoredCredentials } from '../sasl/scram-credentials.js';
import type { AuthCapabilities, AuthProvider } from './auth-provider.js';

export class InternalAuthProvider implements AuthProvider {
  readonly name = 'internal';
  readonly capabilities: AuthCapabilities = { scram: true, plain: true, register: true, setPassword: true, remove: true, list: true };
  /**
   * The same accounts table, with no hook handlers: core.accounts fires user_registered/user_removing and
   * deletes a removed user's data for every provider, so a module wrapping this one does not fire them twice.
   */
  private readonly table: Accounts;

  constructor(store: Store, iterations: number) {
    this.table = new Accounts(store, new HookRunner(silentLogger), iterations);
  }

  credentials(bare: Jid): Promise<StoredCredentials | null> {
    return this.table.credentials(bare);
  }

  async checkPassword(bare: Jid, password: string): Promise<boolean> {
    const creds = await this.table.credentials(bare);
    if (!creds) return false;
    try {
      return await verifyPassword(saslPrep(password, 'password'), creds); // stored keys were derived from the prepared form
    } catch (err) {
      if (err instanceof SaslPrepError) return false;
      throw err;
    }
  }

  userExists(bare: Jid): Promise<boolean> {
    return this.table.exists(bare);
  }

  create(bare: Jid, password: string): Promise<void> {
    return this.table.create(bare, password);
  }

  setPassword(bare: Jid, password: string): Promise<void> {
    return this.table.setPassword(bare, password);
  }

  async remove(bare: Jid): Promise<void> {
    await this.table.remove(bare);
  }

  list(host: string): Promise<string[]> {
    return this.table.list(host);
  }
}
