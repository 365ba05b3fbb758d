// SCRAM server: SCRAM-SHA-1/-256 and their -PLUS variants (RFC 5802, RFC 7677) with channel
// binding tls-server-end-point and tls-unique (RFC 5929) and tls-exporter (RFC 9266), profiled by RFC 6120 §6.
import { timingSafeEqual } from 'node:crypto';
import { randomString } from '../random-pool.js';
import type { ChannelBindingType, SaslContext, SaslFailureCondition, SaslServerSession, SaslStep } from './mechanism.js';
import {
  decodeCredential, DEFAULT_ITERATIONS, digest, fakeCredential, hmac, SaslPrepError, saslPrep,
  SCRAM_HASH_INFO, type ScramHash,
} from './scram-credentials.js';
import {
  authzidAllowed, decodeBase64, decodeUtf8, isNonce, MAX_SASL_MESSAGE, parseAttrs, unescapeSaslName, xor,
} from './scram-syntax.js';

export interface ScramServerOptions {
  /** Server part of the nonce. Tests only (RFC test vectors); production uses 24 random bytes. */
  serverNonce?: string;
  /** Iteration count shown for unknown users; set it to what real accounts use so they blend in. */
  fakeIterations?: number;
}

const SUPPORTED_CB: readonly ChannelBindingType[] = ['tls-exporter', 'tls-server-end-point', 'tls-unique'];

type State =
  | { name: 'start' }
  | { name: 'await-first' }
  | {
      name: 'await-final';
      gs2Header: string;
      cbData: Buffer | null;
      cbName?: ChannelBindingType;
      clientFirstBare: string;
      serverFirst: string;
      nonce: string;
      storedKey: Buffer;
      serverKey: Buffer;
      fake: boolean;
      noAccount: boolean;
      username: string;
      authzid?: string;
    }
  | { name: 'done' };

/** cbind-input = gs2-header [ cbind-data ] (RFC 5802 §7), compared without building it (one login each). */
function channelBindingMatches(cb: Buffer, gs2Header: string, cbData: Buffer | null): boolean {
  const header = Buffer.from(gs2Header, 'utf8');
  if (cb.length !== header.length + (cbData?.length ?? 0)) return false;
  // The GS2 header is the client's own text: comparing it in the clear tells the client nothing new.
  if (!header.equals(cb.subarray(0, header.length))) return false;
  return cbData === null || timingSafeEqual(cb.subarray(header.length), cbData);
}

function fail(condition: SaslFailureCondition, text?: string, reason?: string): SaslStep {
  const step: SaslStep = text === undefined ? { kind: 'failure', condition } : { kind: 'failure', condition, text };
  if (reason !== undefined) step.reason = reason;
  return step;
}

export class ScramServerSession implements SaslServerSession {
  readonly mechanism: string;
  private state: State = { name: 'start' };
  private busy = false;

  constructor(
    readonly hash: ScramHash,
    readonly plus: boolean,
    private readonly ctx: SaslContext,
    private readonly opts: ScramServerOptions = {},
  ) {
    this.mechanism = `SCRAM-${hash}${plus ? '-PLUS' : ''}`;
    if (opts.serverNonce !== undefined && !isNonce(opts.serverNonce)) {
      throw new RangeError('serverNonce must be printable ASCII without ","');
    }
  }

  async step(response: Buffer): Promise<SaslStep> {
    if (this.busy) return fail('malformed-request', 'concurrent step');
    this.busy = true;
    try {
      const result = await this.dispatch(response);
      if (result.kind !== 'challenge') this.state = { name: 'done' };
      return result;
    } catch (err) {
      this.state = { name: 'done' };
      throw err;
    } finally {
      this.busy = false;
    }
  }

  private async dispatch(response: Buffer): Promise<SaslStep> {
    const state = this.state;
    switch (state.name) {
      case 'start':
        // No initial response: SCRAM is client-first, so ask for it with an empty challenge
        // (RFC 4422 §5, RFC 6120 §6.4.2).
        if (response.length === 0) {
          this.state = { name: 'await-first' };
          return { kind: 'challenge', data: Buffer.alloc(0) };
        }
        return this.clientFirst(response);
      case 'await-first':
        return this.clientFirst(response);
      case 'await-final':
        return this.clientFinal(response, state);
      case 'done':
        return fail('malformed-request', 'exchange already finished');
    }
  }

  private async clientFirst(buf: Buffer): Promise<SaslStep> {
    if (buf.length === 0 || buf.length > MAX_SASL_MESSAGE) return fail('malformed-request');
    const msg = decodeUtf8(buf);
    if (msg === null) return fail('malformed-request', 'invalid UTF-8');

    // gs2-header = gs2-cbind-flag "," [ authzid ] ","
    const c1 = msg.indexOf(',');
    const c2 = c1 < 0 ? -1 : msg.indexOf(',', c1 + 1);
    if (c2 < 0) return fail('malformed-request', 'bad GS2 header');
    const flagField = msg.slice(0, c1);
    const authzField = msg.slice(c1 + 1, c2);
    const gs2Header = msg.slice(0, c2 + 1);
    const clientFirstBare = msg.slice(c2 + 1);

    let flag: 'n' | 'y' | 'p';
    let cbName: string | undefined;
    if (flagField === 'n' || flagField === 'y') {
      flag = flagField;
    } else if (/^p=[A-Za-z0-9.-]+$/.test(flagField)) {
      flag = 'p';
      cbName = flagField.slice(2);
    } else {
      return fail('malformed-request', 'bad GS2 channel-binding flag');
    }

    let authzid: string | undefined;
    if (authzField !== '') {
      if (!authzField.startsWith('a=')) return fail('malformed-request', 'bad GS2 authzid');
      const decoded = unescapeSaslName(authzField.slice(2));
      if (decoded === null) return fail('malformed-request', 'invalid-encoding');
      authzid = decoded;
    }

    // client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
    const attrs = parseAttrs(clientFirstBare);
    if (!attrs || attrs.length < 2) return fail('malformed-request');
    // RFC 5802 §5.1: "m" is reserved; its presence MUST cause authentication failure.
    if (attrs[0]!.name === 'm') return fail('malformed-request', 'extensions-not-supported');
    if (attrs[0]!.name !== 'n' || attrs[1]!.name !== 'r') return fail('malformed-request');
    const rawUser = unescapeSaslName(attrs[0]!.value);
    if (rawUser === null) return fail('malformed-request', 'invalid-username-encoding');
    let username: string;
    try {
      username = saslPrep(rawUser, 'username');
    } catch (err) {
      if (err instanceof SaslPrepError) return fail('malformed-request', 'invalid-username-encoding');
      throw err;
    }
    if (username === '') return fail('malformed-request', 'invalid-username-encoding');
    const clientNonce = attrs[1]!.value;
    if (!isNonce(clientNonce)) return fail('malformed-request', 'bad nonce');

    // Channel binding policy (RFC 5802 §6, RFC 5056): decided before any account lookup, so the
    // outcome never depends on whether the user exists.
    let cbData: Buffer | null = null;
    if (this.plus) {
      if (flag !== 'p') return fail('malformed-request', '-PLUS mechanism requires channel binding');
      const unsupported = `unsupported channel binding type ${cbName}`;
      if (!SUPPORTED_CB.includes(cbName as ChannelBindingType)) {
        return fail('not-authorized', 'unsupported-channel-binding-type', unsupported);
      }
      cbData = this.ctx.channelBinding(cbName as ChannelBindingType);
      if (!cbData) return fail('not-authorized', 'unsupported-channel-binding-type', unsupported);
    } else {
      if (flag === 'p') return fail('malformed-request', 'channel binding requires a -PLUS mechanism');
      // 'y': the client could bind but thought we could not. If we did advertise binding, someone
      // stripped the -PLUS mechanisms from our features: a downgrade attack.
      if (flag === 'y' && this.ctx.advertisedChannelBindings.length > 0) {
        return fail('not-authorized', 'server-does-support-channel-binding', 'channel-binding downgrade (gs2 flag y while -PLUS was offered)');
      }
    }

    if (authzid !== undefined && !authzidAllowed(authzid, username, this.ctx.domain)) {
      return fail('invalid-authzid');
    }

    let creds;
    try {
      creds = await this.ctx.lookup(username);
    } catch {
      return fail('temporary-auth-failure');
    }
    // Unknown user, or no credential for this hash: carry on with a fake credential and fail at
    // the proof, so the exchange does not reveal which accounts exist (RFC 5802 §9).
    let cred = creds ? decodeCredential(this.hash, creds.scram?.[this.hash]) : null;
    const fake = cred === null;
    if (!cred) {
      cred = decodeCredential(this.hash, fakeCredential(username, this.hash, this.opts.fakeIterations ?? DEFAULT_ITERATIONS))!;
    }

    const nonce = clientNonce + (this.opts.serverNonce ?? randomString(24, 'base64'));
    const serverFirst = `r=${nonce},s=${cred.salt.toString('base64')},i=${cred.iterations}`;
    this.state = {
      name: 'await-final',
      gs2Header,
      cbData,
      ...(cbData ? { cbName: cbName as ChannelBindingType } : {}),
      clientFirstBare,
      serverFirst,
      nonce,
      storedKey: cred.storedKey,
      serverKey: cred.serverKey,
      fake,
      noAccount: creds === null,
      username,
      ...(authzid !== undefined ? { authzid } : {}),
    };
    return { kind: 'challenge', data: Buffer.from(serverFirst, 'utf8') };
  }

  private async clientFinal(buf: Buffer, st: Extract<State, { name: 'await-final' }>): Promise<SaslStep> {
    if (buf.length === 0 || buf.length > MAX_SASL_MESSAGE) return fail('malformed-request');
    const msg = decodeUtf8(buf);
    if (msg === null) return fail('malformed-request', 'invalid UTF-8');

    // client-final-message = channel-binding "," nonce ["," extensions] "," proof
    const p = msg.lastIndexOf(',p=');
    if (p < 0) return fail('malformed-request', 'missing proof');
    const withoutProof = msg.slice(0, p);
    const attrs = parseAttrs(withoutProof);
    if (!attrs || attrs.length < 2 || attrs[0]!.name !== 'c' || attrs[1]!.name !== 'r') {
      return fail('malformed-request');
    }
    if (attrs.some((a) => a.name === 'm')) return fail('malformed-request', 'extensions-not-supported');
    const cb = decodeBase64(attrs[0]!.value);
    const proof = decodeBase64(msg.slice(p + 3));
    if (!cb || !proof) return fail('malformed-request', 'invalid-encoding');
    if (proof.length !== SCRAM_HASH_INFO[this.hash].length) return fail('malformed-request', 'invalid-proof');

    if (attrs[1]!.value !== st.nonce) return fail('not-authorized', 'nonce mismatch');

    // c= must carry the exact GS2 header the client sent first, plus the binding data for -PLUS
    // (RFC 5802 §7 "cbind-input"): a mismatch means the TLS channel is not the one we are on.
    if (!channelBindingMatches(cb, st.gs2Header, st.cbData)) {
      return fail('not-authorized', 'channel-bindings-dont-match', 'channel bindings do not match');
    }

    // AuthMessage; ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage); H(ClientKey) == StoredKey.
    const authMessage = `${st.clientFirstBare},${st.serverFirst},${withoutProof}`;
    const clientKey = xor(proof, hmac(this.hash, st.storedKey, authMessage));
    const match = timingSafeEqual(digest(this.hash, clientKey), st.storedKey);
    if (!match || st.fake) {
      const reason = st.noAccount ? 'no such account' : st.fake ? `no ${this.hash} credential stored` : 'wrong password';
      return fail('not-authorized', 'invalid-proof', reason);
    }

    const serverSignature = hmac(this.hash, st.serverKey, authMessage);
    return {
      kind: 'success',
      data: Buffer.from(`v=${serverSignature.toString('base64')}`, 'utf8'),
      username: st.username,
      ...(st.authzid !== undefined ? { authzid: st.authzid } : {}),
      ...(st.cbName !== undefined ? { channelBinding: st.cbName } : {}),
    };
  }
}
