// Does a peer certificate name an XMPP domain? RFC 6125 §6 with the XMPP rules of RFC 6120 §13.7.2.1 and
// XEP-0178: DNS-ID (wildcard only as the whole left-most label), SRV-ID _xmpp-server/_xmpps-server (RFC 4985,
// XEP-0368), id-on-xmppAddr (RFC 6120 §13.7.1.4), and the subject CN only when none of those is present.
import { domainToASCII } from 'node:url';
import forge from 'node-forge';
import { OID_XMPP_ADDR } from '../tls/self-signed.js';
import { Jid } from '../../core/jid.js';

const OID_SAN = '2.5.29.17';
const OID_SRV_NAME = '1.3.6.1.5.5.7.8.7';
const OID_CN = '2.5.4.3';
const SRV_SERVICES = ['_xmpp-server.', '_xmpps-server.'];

export interface PresentedIdentifiers { dns: string[]; srv: string[]; xmppAddr: string[]; cn: string[] }

/** The identifiers a certificate (DER) presents; never throws (a garbled certificate presents none). */
export function presentedIdentifiers(der: Buffer): PresentedIdentifiers {
  const out: PresentedIdentifiers = { dns: [], srv: [], xmppAddr: [], cn: [] };
  try {
    const cert = forge.asn1.fromDer(forge.util.createBuffer(der.toString('binary')));
    const tbs = (cert.value as forge.asn1.Asn1[])[0]!;
    const fields = tbs.value as forge.asn1.Asn1[];
    // tbsCertificate: [0] version?, serial, signature, issuer, validity, subject, spki, [1]?, [2]?, [3] extensions
    const off = fields[0]!.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC ? 1 : 0;
    collectCn(fields[off + 4], out.cn);
    const extsWrapper = fields.find((f) => f.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && f.type === 3);
    const exts = extsWrapper ? ((extsWrapper.value as forge.asn1.Asn1[])[0]!.value as forge.asn1.Asn1[]) : [];
    for (const ext of exts) {
      const parts = ext.value as forge.asn1.Asn1[];
      if (forge.asn1.derToOid(parts[0]!.value as string) !== OID_SAN) continue;
      const names = forge.asn1.fromDer(parts[parts.length - 1]!.value as string).value as forge.asn1.Asn1[];
      for (const gn of names) collectGeneralName(gn, out);
    }
  } catch {
    // not parseable: presents nothing, so nothing matches
  }
  return out;
}

function collectGeneralName(gn: forge.asn1.Asn1, out: PresentedIdentifiers): void {
  if (gn.tagClass !== forge.asn1.Class.CONTEXT_SPECIFIC) return;
  if (gn.type === 2 && typeof gn.value === 'string') {
    out.dns.push(gn.value.toLowerCase()); // dNSName, an IA5String
  } else if (gn.type === 0 && Array.isArray(gn.value)) {
    // otherName ::= SEQUENCE { type-id OID, value [0] EXPLICIT ANY }
    const [oid, wrapped] = gn.value;
    const inner = (wrapped?.value as forge.asn1.Asn1[] | undefined)?.[0];
    if (!oid || !inner || typeof inner.value !== 'string') return;
    const type = forge.asn1.derToOid(oid.value as string);
    if (type === OID_XMPP_ADDR) out.xmppAddr.push(forge.util.decodeUtf8(inner.value)); // UTF8String
    else if (type === OID_SRV_NAME) out.srv.push(inner.value.toLowerCase()); // IA5String
  }
}

function collectCn(subject: forge.asn1.Asn1 | undefined, into: string[]): void {
  for (const rdn of (subject?.value as forge.asn1.Asn1[] | undefined) ?? []) {
    for (const atv of (rdn.value as forge.asn1.Asn1[]) ?? []) {
      const [oid, val] = atv.value as forge.asn1.Asn1[];
      if (!oid || !val || typeof val.value !== 'string') continue;
      if (forge.asn1.derToOid(oid.value as string) !== OID_CN) continue;
      into.push(val.type === forge.asn1.Type.UTF8 ? forge.util.decodeUtf8(val.value) : val.value);
    }
  }
}

/** RFC 6125 §6.4.1-6.4.3: case-insensitive; '*' only as the complete left-most label, matching one label. */
function dnsMatches(presented: string, reference: string): boolean {
  const p = presented.toLowerCase().replace(/\.$/, '');
  if (p === reference) return true;
  if (!p.startsWith('*.')) return false;
  const dot = reference.indexOf('.');
  return dot > 0 && p.slice(2) === reference.slice(dot + 1) && p.slice(2).includes('.');
}

/** Whether the identifiers cover the XMPP domain (a prepared domainpart, U-labels). */
export function identifiersMatch(ids: PresentedIdentifiers, domain: string): boolean {
  const ascii = domainToASCII(domain) || domain;
  for (const x of ids.xmppAddr) {
    const j = Jid.tryParse(x);
    if (j && !j.local && !j.resource && j.domain === domain) return true; // RFC 6120 §13.7.1.4: no wildcards
  }
  if (ids.dns.some((d) => dnsMatches(d, ascii))) return true;
  for (const s of ids.srv) {
    const svc = SRV_SERVICES.find((p) => s.startsWith(p));
    if (svc && dnsMatches(s.slice(svc.length), ascii)) return true;
  }
  // RFC 6125 §6.4.4: the CN is a fallback only for certificates without any supported SAN identifier.
  if (ids.dns.length === 0 && ids.srv.length === 0 && ids.xmppAddr.length === 0) {
    return ids.cn.some((cn) => dnsMatches((domainToASCII(cn) || cn).toLowerCase(), ascii));
  }
  return false;
}

export function certificateMatchesDomain(der: Buffer, domain: string): boolean {
  return identifiersMatch(presentedIdentifiers(der), domain);
}
