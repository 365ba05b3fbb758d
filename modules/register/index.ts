// XEP-0077 In-Band Registration: account creation before authentication (§3.1, stream feature §8), password
// change (§3.3) and account cancellation (§3.2), gated by an access rule; disco feature per §10.
import { defineModule, opt, xml, type OptionValues } from '../../src/sdk.js';
import { accountIq } from './account.js';
import { NS_REGISTER, NS_REGISTER_FEATURE } from './policy.js';
import { preAuthIq } from './pre-auth.js';

const options = {
  /** The access rule (access_rules.<name>) that decides who may register; an unknown rule denies. */
  access: opt.string('register'),
  /** Shortest acceptable password, in characters (NIST SP 800-63B §5.1.1.2 asks for at least 8). */
  min_password_length: opt.number(8, { min: 1, max: 1024, integer: true }),
  /** Let users change their password in-band (XEP-0077 §3.3). */
  allow_password_change: opt.boolean(true),
  /** Let users delete their account in-band (XEP-0077 §3.2). */
  allow_removal: opt.boolean(true),
};

export type RegisterOptions = OptionValues<typeof options>;

export default defineModule({
  name: 'register',
  description: 'In-band registration, password change and account removal',
  xeps: ['XEP-0077'],
  features: [NS_REGISTER],
  options,
  start(ctx) {
    // Offered only where it can succeed: before authentication, over TLS (XEP-0077 §11 — the password
    // travels in the clear inside the stream), and when the access rule admits the client's address.
    ctx.hook('c2s_stream_features', (features, { stage, secure, ip }) => {
      if (stage !== 'pre-auth' || !secure) return;
      if (!ctx.allowed(ctx.options.access, { ip })) return;
      return [...features, xml('register', { xmlns: NS_REGISTER_FEATURE })];
    });
    ctx.hook('c2s_unauthenticated_iq', async (reply, req) => {
      if (reply !== null) return; // answered already
      return preAuthIq(ctx, req);
    });
    // After authentication: IQs without 'to' reach the account scope (RFC 6120 §10.3), XEP-0077 §3.3's
    // example addresses the server.
    ctx.iq('account', NS_REGISTER, accountIq(ctx, 'account'));
    ctx.iq('host', NS_REGISTER, accountIq(ctx, 'host'));
  },
});
