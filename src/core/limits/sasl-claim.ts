// The account a SASL attempt claims, read from its first message for the per-account failure counter
// only (the mechanism itself decides): PLAIN's authcid (RFC 4616 §2), SCRAM's n= (RFC 5802 §5.1, §7).
// The password in a PLAIN message is never looked at or kept.
import { Jid } from '../jid.js';

/** The bare JID `username`@`host` in its canonical form, or null when it is not a valid localpart. */
export function accountKey(username: string, host: string): string | null {
  try {
    return Jid.of(username, host).toString();
  } catch {
    return null;
  }
}

/** The claimed account of a first SASL message, or null (unknown mechanism, malformed message). */
export function claimedAccount(mechanism: string, first: Buffer, host: string): string | null {
  let username: string | undefined;
  if (mechanism === 'PLAIN') {
    // message = [authzid] NUL authcid NUL passwd
    const a = first.indexOf(0);
    const b = a < 0 ? -1 : first.indexOf(0, a + 1);
    if (b > a) username = first.subarray(a + 1, b).toString('utf8');
  } else if (mechanism.startsWith('HT-')) {
    // draft-schmaus-kitten-sasl-ht: authcid NUL HMAC
    const a = first.indexOf(0);
    if (a > 0) username = first.subarray(0, a).toString('utf8');
  } else if (mechanism.startsWith('SCRAM-')) {
    // gs2-cbind-flag "," [authzid] "," [reserved-mext ","] "n=" saslname "," ...
    const parts = first.toString('utf8').split(',');
    const n = parts.slice(2, 4).find((p) => p.startsWith('n='));
    if (n) username = n.slice(2).replace(/=2C/g, ',').replace(/=3D/g, '=');
  }
  return username ? accountKey(username, host) : null;
}
