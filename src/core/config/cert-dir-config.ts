// The `tls` setting, global and per host (host_config.<host>.tls): one certificate/key pair
// ({cert, key}) or a certificate directory ({certificates: DIR}) in the layout certbot, lego, acmetool
// or Prosody write, searched per host (src/interface/tls/cert-layouts.ts) and watched for renewals.
import type { TlsSettings } from './types.js';

type Fail = (p: string, problem: string) => never;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v !== '';

export function parseTlsSettings(v: unknown, p: string, c: { fail: Fail; abs: (path: string) => string }): TlsSettings | undefined {
  const { fail, abs } = c;
  if (v === undefined) return undefined;
  if (!isObj(v)) return fail(p, 'must be a mapping: {cert: FILE, key: FILE} or {certificates: DIR}');
  for (const key of Object.keys(v)) {
    if (!['cert', 'key', 'certificates'].includes(key)) fail(`${p}.${key || '""'}`, 'unknown option (known: cert, key, certificates)');
  }
  if (v.certificates !== undefined) {
    if (v.cert !== undefined || v.key !== undefined) {
      fail(p, 'give either certificates (a directory) or cert and key (files), not both');
    }
    if (!nonEmpty(v.certificates)) {
      return fail(`${p}.certificates`, 'must be a directory path (e.g. /etc/letsencrypt, ~/.lego, /var/lib/acme)');
    }
    return { certificates: abs(v.certificates) };
  }
  if (!nonEmpty(v.cert)) return fail(`${p}.cert`, 'must be a non-empty string (the certificate chain, PEM)');
  if (!nonEmpty(v.key)) return fail(`${p}.key`, 'must be a non-empty string (the private key, PEM)');
  return { cert: abs(v.cert), key: abs(v.key) };
}
