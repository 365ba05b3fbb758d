// The `external` provider: a pool of programs speaking ejabberd's extauth protocol, so a site can check
// passwords against its own database or directory. It checks plaintext passwords only (no SCRAM keys),
// so hosts using it offer PLAIN over TLS (RFC 6120 §6.4.5) and no SCRAM.
import type { Registry } from 'prom-client';
import { Counter } from 'prom-client';
import { AccountExistsError, NoSuchAccountError } from '../accounts.js';
import type { Jid } from '../jid.js';
import type { Logger } from '../log.js';
import { AuthRefusedError, AuthUnavailableError, type AuthCapabilities, type AuthProvider } from './auth-provider.js';
import { ExtauthProcess, type ExtauthProgram } from './extauth-process.js';
import { encodeRequest, ExtauthProtocolError, type ExtauthOp } from './extauth-protocol.js';

export interface ExtauthMetrics {
  requests: Counter<'op' | 'result'>;
  restarts: Counter<string>;
}

/** The extauth counters of one server's registry. */
export function extauthMetrics(registry: Registry): ExtauthMetrics {
  return {
    requests: new Counter({ name: 'xmppd_extauth_requests_total', help: 'Requests to external auth programs, by operation and result', labelNames: ['op', 'result'], registers: [registry] }),
    restarts: new Counter({ name: 'xmppd_extauth_restarts_total', help: 'External auth programs started again after dying or hanging', registers: [registry] }),
  };
}

export class ExtauthProvider implements AuthProvider {
  readonly name = 'external';
  /** Every write operation has a protocol op; the program answers 0 to what it does not allow. */
  readonly capabilities: AuthCapabilities = { scram: false, plain: true, register: true, setPassword: true, remove: true, list: false };
  private readonly pool: ExtauthProcess[];
  private next = 0;

  constructor(spec: ExtauthProgram, poolSize: number, log: Logger, metrics?: ExtauthMetrics) {
    this.pool = Array.from({ length: poolSize }, () => {
      const p = new ExtauthProcess(spec, log);
      if (metrics) {
        p.onResult = (op, result) => metrics.requests.inc({ op, result });
        p.onRestart = () => metrics.restarts.inc();
      }
      return p;
    });
  }

  start(): void {
    for (const p of this.pool) p.start();
  }

  /** PIDs of the running programs (operators and tests look at them). */
  pids(): number[] {
    return this.pool.map((p) => p.pid).filter((pid): pid is number => pid !== undefined);
  }

  checkPassword(bare: Jid, password: string): Promise<boolean> {
    // The password goes as the client sent it: the site's store, not SASLprep, decides what matches.
    return this.call('auth', bare, password);
  }

  userExists(bare: Jid): Promise<boolean> {
    return this.call('isuser', bare);
  }

  async create(bare: Jid, password: string): Promise<void> {
    if (await this.call('tryregister', bare, password)) return;
    if (await this.call('isuser', bare)) throw new AccountExistsError(`${bare.bareString()} already exists`);
    throw new AuthRefusedError(`the external auth program refused to register ${bare.bareString()}`);
  }

  async setPassword(bare: Jid, password: string): Promise<void> {
    if (await this.call('setpass', bare, password)) return;
    if (!(await this.call('isuser', bare))) throw new NoSuchAccountError(`${bare.bareString()} does not exist`);
    throw new AuthRefusedError(`the external auth program refused to change the password of ${bare.bareString()}`);
  }

  async remove(bare: Jid): Promise<void> {
    // removeuser, not removeuser3: the server removes accounts on the admin's or the
    // authenticated user's say-so (XEP-0077 §3.2), never with a password to check.
    if (await this.call('removeuser', bare)) return;
    if (!(await this.call('isuser', bare))) throw new NoSuchAccountError(`${bare.bareString()} does not exist`);
    throw new AuthRefusedError(`the external auth program refused to remove ${bare.bareString()}`);
  }

  async stop(): Promise<void> {
    await Promise.all(this.pool.map((p) => p.stop()));
  }

  private call(op: ExtauthOp, bare: Jid, password?: string): Promise<boolean> {
    let frame: Buffer;
    try {
      frame = encodeRequest(op, bare.local, bare.domain, password);
    } catch (err) {
      // Only a password can make a frame too long: it cannot be anybody's, nor be stored.
      if (err instanceof ExtauthProtocolError && op === 'auth') return Promise.resolve(false);
      if (err instanceof ExtauthProtocolError) return Promise.reject(new AuthRefusedError(`cannot ask the external auth program: ${err.message}`));
      return Promise.reject(new AuthUnavailableError(`cannot ask the external auth program: ${(err as Error).message}`));
    }
    return this.pick().request(op, bare.local, frame);
  }

  /** The least busy program; round robin among equals so every program gets used. */
  private pick(): ExtauthProcess {
    let best = this.pool[this.next % this.pool.length]!;
    for (let i = 1; i < this.pool.length; i++) {
      const p = this.pool[(this.next + i) % this.pool.length]!;
      if (p.load < best.load) best = p;
    }
    this.next = (this.next + 1) % this.pool.length;
    return best;
  }
}
