// Server-side SASL for c2s (RFC 6120 §6, RFC 4422): which mechanisms to offer, and a session per
// <auth/>. SCRAM (RFC 5802/7677, -PLUS with RFC 5929/9266) and PLAIN (RFC 4616).
import type { ChannelBindingType, SaslContext, SaslServerSession } from './mechanism.js';
import { PlainServerSession, type PlainServerOptions } from './plain-server.js';
import { ScramServerSession, type ScramServerOptions } from './scram-server.js';

export * from './mechanism.js';
export {
  DEFAULT_ITERATIONS, SaslPrepError, deriveCredentials, saslPrep, verifyPassword,
  type ScramCredential, type ScramHash, type StoredCredentials,
} from './scram-credentials.js';
export { ScramServerSession, type ScramServerOptions } from './scram-server.js';
export { PlainServerSession, type PlainServerOptions } from './plain-server.js';
export { VerifiedPasswords } from './verified-passwords.js';
export { ScramClient, ScramClientError, type ScramClientOptions } from './scram-client.js';
export {
  channelBindingsFor, tlsExporter, tlsServerEndPoint, tlsUnique, type ChannelBindingPolicy, type ChannelBindings,
} from './channel-binding.js';

/** The few distinct answers of offeredMechanisms, shared (every stream asks once per negotiation). */
const offeredCache = new Map<string, readonly string[]>();

/** Mechanisms to advertise, strongest first (clients usually pick the first they support). */
export function offeredMechanisms(opts: {
  secure: boolean;
  channelBindings: readonly ChannelBindingType[];
  allowPlain?: boolean;
  /** false when the account store has no SCRAM keys (an external password checker): PLAIN only. */
  scram?: boolean;
}): readonly string[] {
  const key = `${opts.scram ?? true}|${opts.secure}|${opts.allowPlain ?? true}|${opts.channelBindings.join(',')}`;
  let out = offeredCache.get(key);
  if (out === undefined) offeredCache.set(key, (out = Object.freeze(computeOffered(opts))));
  return out;
}

function computeOffered(opts: Parameters<typeof offeredMechanisms>[0]): string[] {
  const out: string[] = [];
  if (opts.scram ?? true) {
    if (opts.channelBindings.length > 0) out.push('SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS');
    out.push('SCRAM-SHA-256', 'SCRAM-SHA-1');
  }
  // PLAIN sends the password itself: never offer it on an unencrypted stream (RFC 6120 §6.4.5).
  if (opts.secure && (opts.allowPlain ?? true)) out.push('PLAIN');
  return out;
}

export type SaslSessionOptions = ScramServerOptions & PlainServerOptions;

/**
 * A session for the mechanism the client chose; null means answer <invalid-mechanism/>. -PLUS
 * is refused the same way when the server advertised no channel binding, since offeredMechanisms()
 * did not offer it then. PLAIN on an insecure stream yields a session that fails with
 * encryption-required, the more useful answer.
 */
export function createSaslSession(mechanism: string, ctx: SaslContext, opts: SaslSessionOptions = {}): SaslServerSession | null {
  switch (mechanism) {
    case 'SCRAM-SHA-256-PLUS':
    case 'SCRAM-SHA-1-PLUS':
      if (ctx.advertisedChannelBindings.length === 0) return null;
      return new ScramServerSession(mechanism === 'SCRAM-SHA-256-PLUS' ? 'SHA-256' : 'SHA-1', true, ctx, opts);
    case 'SCRAM-SHA-256':
      return new ScramServerSession('SHA-256', false, ctx, opts);
    case 'SCRAM-SHA-1':
      return new ScramServerSession('SHA-1', false, ctx, opts);
    case 'PLAIN':
      return new PlainServerSession(ctx, {
        ...(opts.fakeIterations !== undefined ? { fakeIterations: opts.fakeIterations } : {}),
        ...(opts.verified !== undefined ? { verified: opts.verified } : {}),
      });
    default:
      return null;
  }
}
