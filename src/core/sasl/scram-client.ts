// SCRAM client (RFC 5802, RFC 7677; channel binding per RFC 5929 / RFC 9266) for tests and tools:
// builds client-first and client-final messages and verifies the server signature.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { hmac, saslPrep, saltedPassword, scramKeys, type ScramHash } from './scram-credentials.js';
import { decodeBase64, escapeSaslName, isNonce, parseAttrs, xor } from './scram-syntax.js';

export interface ScramClientOptions {
  /** SCRAM-SHA-1, SCRAM-SHA-256, or either with -PLUS. */
  mechanism: string;
  username: string;
  password: string;
  /** Authorization identity (a bare JID) sent as GS2 "a=". */
  authzid?: string;
  /** Channel-binding type and data: required for -PLUS, ignored otherwise. */
  cbType?: string;
  cbData?: Buffer;
  /** Non-PLUS only: send the 'y' flag (we could bind, but the server offered no -PLUS). */
  clientSupportsChannelBinding?: boolean;
  /** Fixed client nonce, for test vectors only. */
  clientNonce?: string;
  /** Refuse a server-first message with fewer iterations (a downgraded or weak server). Default 1. */
  minIterations?: number;
  /** Refuse a server-first message with more iterations: a hostile server could otherwise make the
   *  client spend hours in PBKDF2 (i may be up to 2^32-1). Default 1,000,000, the server's own maximum. */
  maxIterations?: number;
}

export class ScramClientError extends Error {
  readonly code = 'XMPPD_ERR_SCRAM_CLIENT';
  constructor(message: string, readonly serverError?: string) {
    super(message);
    this.name = 'ScramClientError';
  }
}

export class ScramClient {
  readonly mechanism: string;
  readonly hash: ScramHash;
  readonly plus: boolean;
  readonly gs2Header: string;
  readonly clientFirstBare: string;
  private readonly password: string;
  private readonly clientNonce: string;
  private readonly cbData: Buffer;
  private readonly minIterations: number;
  private readonly maxIterations: number;
  private expectedServerSignature: Buffer | null = null;
  private verified = false;

  constructor(opts: ScramClientOptions) {
    const m = /^SCRAM-(SHA-1|SHA-256)(-PLUS)?$/.exec(opts.mechanism);
    if (!m) throw new RangeError(`unsupported SCRAM mechanism ${opts.mechanism}`);
    this.mechanism = opts.mechanism;
    this.hash = m[1] as ScramHash;
    this.plus = m[2] !== undefined;
    this.minIterations = opts.minIterations ?? 1;
    this.maxIterations = opts.maxIterations ?? 1_000_000;

    let flag: string;
    if (this.plus) {
      if (!opts.cbType || !/^[A-Za-z0-9.-]+$/.test(opts.cbType) || !opts.cbData) {
        throw new RangeError(`${opts.mechanism} needs cbType and cbData`);
      }
      flag = `p=${opts.cbType}`;
      this.cbData = opts.cbData;
    } else {
      flag = opts.clientSupportsChannelBinding ? 'y' : 'n';
      this.cbData = Buffer.alloc(0);
    }
    this.gs2Header = `${flag},${opts.authzid !== undefined ? `a=${escapeSaslName(opts.authzid)}` : ''},`;

    const user = saslPrep(opts.username, 'username');
    if (user === '') throw new RangeError('username is empty');
    this.password = saslPrep(opts.password, 'password');

    this.clientNonce = opts.clientNonce ?? randomBytes(24).toString('base64');
    if (!isNonce(this.clientNonce)) throw new RangeError('clientNonce must be printable ASCII without ","');
    this.clientFirstBare = `n=${escapeSaslName(user)},r=${this.clientNonce}`;
  }

  /** client-first-message: the <auth/> initial response. */
  clientFirst(): Buffer {
    return Buffer.from(this.gs2Header + this.clientFirstBare, 'utf8');
  }

  /** Takes server-first-message (the first challenge) and returns client-final-message. */
  async clientFinal(serverFirst: Buffer | string): Promise<Buffer> {
    const sf = typeof serverFirst === 'string' ? serverFirst : serverFirst.toString('utf8');
    const attrs = parseAttrs(sf);
    if (!attrs || attrs.length < 3) throw new ScramClientError('malformed server-first-message');
    if (attrs[0]!.name === 'm') throw new ScramClientError('server-first-message uses unsupported extensions');
    if (attrs[0]!.name !== 'r' || attrs[1]!.name !== 's' || attrs[2]!.name !== 'i') {
      throw new ScramClientError('malformed server-first-message');
    }
    const nonce = attrs[0]!.value;
    // The server must extend our nonce, not replace it (RFC 5802 §5.1 "r").
    if (!isNonce(nonce) || !nonce.startsWith(this.clientNonce) || nonce.length === this.clientNonce.length) {
      throw new ScramClientError('server nonce does not extend the client nonce');
    }
    const salt = decodeBase64(attrs[1]!.value);
    if (!salt || salt.length === 0) throw new ScramClientError('malformed salt');
    if (!/^[1-9][0-9]{0,9}$/.test(attrs[2]!.value)) throw new ScramClientError('malformed iteration count');
    const iterations = Number(attrs[2]!.value);
    if (iterations > 0xffffffff) throw new ScramClientError('malformed iteration count');
    if (iterations < this.minIterations) {
      throw new ScramClientError(`iteration count ${iterations} is below the minimum ${this.minIterations}`);
    }
    if (iterations > this.maxIterations) {
      throw new ScramClientError(`iteration count ${iterations} is above the maximum ${this.maxIterations}`);
    }

    const cbind = Buffer.concat([Buffer.from(this.gs2Header, 'utf8'), this.cbData]).toString('base64');
    const withoutProof = `c=${cbind},r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${sf},${withoutProof}`;
    const { clientKey, storedKey, serverKey } = scramKeys(
      this.hash, await saltedPassword(this.hash, this.password, salt, iterations));
    const proof = xor(clientKey, hmac(this.hash, storedKey, authMessage));
    this.expectedServerSignature = hmac(this.hash, serverKey, authMessage);
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`, 'utf8');
  }

  /** Checks server-final-message (the <success/> data); throws unless the signature is right,
   *  which proves the server knew the credentials (mutual authentication). */
  verifyServerFinal(serverFinal: Buffer | string): void {
    if (!this.expectedServerSignature) throw new ScramClientError('clientFinal() has not run');
    const msg = typeof serverFinal === 'string' ? serverFinal : serverFinal.toString('utf8');
    const attrs = parseAttrs(msg);
    if (!attrs) throw new ScramClientError('malformed server-final-message');
    if (attrs[0]!.name === 'e') {
      throw new ScramClientError(`server reported ${attrs[0]!.value}`, attrs[0]!.value);
    }
    const sig = attrs[0]!.name === 'v' ? decodeBase64(attrs[0]!.value) : null;
    if (!sig) throw new ScramClientError('malformed server-final-message');
    if (sig.length !== this.expectedServerSignature.length || !timingSafeEqual(sig, this.expectedServerSignature)) {
      throw new ScramClientError('server signature mismatch');
    }
    this.verified = true;
  }

  /** True once the server signature was verified. */
  get serverVerified(): boolean {
    return this.verified;
  }
}
