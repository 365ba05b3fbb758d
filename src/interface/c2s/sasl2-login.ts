// What a SASL2 login (XEP-0388) adds around the SASL exchange: the inline features offered, FAST token logins
// (XEP-0484, HT-SHA-256-NONE), and the <success/> that binds a resource (XEP-0386 Bind2) and issues tokens.
import xml from '@xmpp/xml';
import type { Element } from '@xmpp/xml';
import type { Core } from '../../core/core.js';
import { NS } from '../../core/ns.js';
import { Jid } from '../../core/jid.js';
import type { StanzaError } from '../../core/errors.js';
import type { Session, UnboundStream } from '../../core/session.js';
import { FAST_MECHANISMS, FastTokens } from '../../core/auth/fast-tokens.js';
import { HtServerSession } from '../../core/sasl/ht-server.js';
import type { SaslServerSession } from '../../core/sasl/mechanism.js';
import { authenticationFeature, bind2Feature, bind2Resource, fastFeature, sasl2Success, type Sasl2Request } from './sasl2.js';

/** The <authentication/> stream feature: the mechanisms, Bind2 with the modules' inline features, FAST. */
export async function sasl2Features(core: Core, host: string, mechanisms: readonly string[]): Promise<Element> {
  let vars: string[] = [];
  if (core.hooks.has('bind2_features', host)) vars = await core.hooks.filter('bind2_features', host, vars, { host }) as string[];
  let inline = [bind2Feature(vars)];
  if (core.config.sasl2.fast) inline.push(fastFeature(FAST_MECHANISMS));
  if (core.hooks.has('sasl2_features', host)) inline = await core.hooks.filter('sasl2_features', host, inline, { host }) as Element[];
  return authenticationFeature(mechanisms, inline);
}

const isFastMechanism = (m: string): boolean => (FAST_MECHANISMS as readonly string[]).includes(m);

/**
 * A FAST token login (null: not a FAST mechanism, or FAST is off: <invalid-mechanism/>). Tokens are bound
 * to the account, the client's user-agent id and the mechanism (XEP-0484 §3.4).
 */
export function fastSaslSession(core: Core, host: string, mechanism: string, req: Sasl2Request): SaslServerSession | null {
  if (!core.config.sasl2.fast || !isFastMechanism(mechanism)) return null;
  return new HtServerSession(mechanism, async (username, initiator) => {
    if (!req.agentId) return { ok: false, reason: 'no token' };
    let bare: Jid;
    try {
      bare = Jid.of(username, host);
    } catch {
      return { ok: false, reason: 'no token' };
    }
    const v = await new FastTokens(core.store).verify(bare, req.agentId, mechanism, initiator, { invalidate: req.fastInvalidate });
    if (v.ok) req.usedInitiator = initiator;
    return v;
  });
}

/** What completeSasl2 needs of the stream. */
export interface Sasl2Stream {
  core: Core;
  host: string;
  username: string;
  mechanism: string;
  session: Session;
  /** The authenticated, not yet bound stream, for modules that resume a session inline (XEP-0198). */
  unbound(): UnboundStream;
  /** Take the resource (not yet routable); a refusal (max sessions) is returned. */
  bindResource(resource: string): StanzaError | null;
}

/**
 * Build the <success/>: the modules' inline requests (sasl2_inline: stream resumption), else Bind2 and its
 * inline features, then a FAST token if one was asked for. `resumed`: a module took the stream over.
 */
export async function completeSasl2(s: Sasl2Stream, req: Sasl2Request, data: Buffer | undefined): Promise<{ element: Element; resumed: boolean }> {
  const { core, host } = s;
  let extra: Element[] = [];
  const bare = Jid.of(s.username, host);
  let authzid = bare.toString();
  const outcome = { resumed: null as string | null };
  if (req.others.length && core.hooks.has('sasl2_inline', host)) {
    for (const element of req.others) {
      extra = await core.hooks.filter('sasl2_inline', host, extra, { host, user: bare, stream: s.unbound(), element, outcome }) as Element[];
    }
  }
  if (outcome.resumed) {
    authzid = outcome.resumed;
  } else if (req.bind) {
    let resource = bind2Resource(req.bind.getChildText('tag'));
    try {
      Jid.of(s.username, host, resource);
    } catch {
      resource = bind2Resource(null); // a tag that is no valid resource (RFC 7622 §3.4): a random one
    }
    const refusal = s.bindResource(resource);
    if (refusal) {
      core.log.info('Bind2 refused', { user: authzid, condition: refusal.condition });
    } else {
      authzid = s.session.jid.toString();
      let answers: Element[] = [];
      if (core.hooks.has('bind2_inline', host)) {
        for (const element of req.bind.getChildElements()) {
          if (element.name === 'tag' && (element.attrs.xmlns === undefined || element.attrs.xmlns === NS.BIND2)) continue;
          answers = await core.hooks.filter('bind2_inline', host, answers, { session: s.session, element }) as Element[];
        }
      }
      extra.push(xml('bound', { xmlns: NS.BIND2 }, ...answers));
    }
  }
  const fast = core.config.sasl2.fast;
  // A token is issued on request (XEP-0484 §3.3); on a token login that is the rotation (§3.4).
  const wanted = req.requestToken;
  if (fast && req.agentId && wanted && isFastMechanism(wanted)) {
    const t = await new FastTokens(core.store).issue(bare, req.agentId, wanted, core.config.sasl2.fast_token_lifetime, req.usedInitiator);
    extra.push(xml('token', { xmlns: NS.FAST, expiry: t.expiry, token: t.token }));
    core.log.debug('FAST token issued', { user: bare.toString(), expiry: t.expiry, rotated: req.usedInitiator !== undefined }); // never the token
  }
  return { element: sasl2Success(data, authzid, extra), resumed: outcome.resumed !== null };
}
