// Time-limited TURN credentials by the TURN REST API convention (draft-uberti-behave-turn-rest-00, what
// coturn's use-auth-secret/static-auth-secret checks): username "<expiry unix time>:<user>",
// password base64(HMAC-SHA1(secret, username)).
import { createHmac } from 'node:crypto';

export interface TurnCredentials {
  username: string;
  password: string;
  /** When they stop working, XEP-0082 DateTime (UTC, whole seconds). */
  expires: string;
}

export function turnCredentials(secret: string, user: string, ttlSeconds: number, nowMs = Date.now()): TurnCredentials {
  const expiry = Math.floor(nowMs / 1000) + ttlSeconds;
  const username = `${expiry}:${user}`;
  const password = createHmac('sha1', secret).update(username).digest('base64');
  return { username, password, expires: new Date(expiry * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z') };
}
