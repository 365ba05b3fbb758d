// Channel-binding data for SCRAM -PLUS: tls-exporter (RFC 9266), tls-server-end-point (RFC 5929 §4)
// and tls-unique (RFC 5929 §3, as OpenSSL-based peers compute it), read from a node:tls socket.
import { createHash } from 'node:crypto';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import forge from 'node-forge';
import type { ChannelBindingType } from './mechanism.js';

/**
 * tls-exporter (RFC 9266 §2): 32 bytes of the TLS exporter with label "EXPORTER-Channel-Binding"
 * and no context. Only on TLS 1.3: on TLS 1.2 it is secure only with the extended master secret
 * (RFC 7627), which node:tls does not let us detect, so we report it as unavailable.
 */
export function tlsExporter(sock: TLSSocket): Buffer | null {
  if (sock.getProtocol() !== 'TLSv1.3') return null;
  try {
    // In TLS 1.3 an empty context and no context give the same exporter (RFC 8446 §7.5).
    return sock.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));
  } catch {
    return null; // handshake not finished or socket gone
  }
}

/**
 * tls-unique (RFC 5929 §3.1): the first Finished message of the latest handshake, as OpenSSL-based
 * peers take it (CPython's ssl.get_channel_binding, ejabberd's fast_tls): the client's Finished on a
 * full handshake, the server's on a resumed one, and the same rule on TLS 1.3, where RFC 9266 leaves
 * tls-unique undefined but deployed clients (slixmpp 1.8.x) still use it. `role` is this side's.
 */
export function tlsUnique(sock: TLSSocket, role: 'server' | 'client'): Buffer | null {
  // The client sends the first Finished on a full handshake, the server on a resumed one.
  const useOwn = (role === 'server') === sock.isSessionReused();
  const fin = useOwn ? sock.getFinished() : sock.getPeerFinished();
  return fin && fin.length > 0 ? fin : null;
}

// Signature algorithm OID -> the hash it uses (null when none/several: binding undefined).
const SIG_HASH: Record<string, string | null> = {
  '1.2.840.113549.1.1.4': 'md5', // md5WithRSAEncryption
  '1.2.840.113549.1.1.5': 'sha1', // sha1WithRSAEncryption
  '1.2.840.113549.1.1.14': 'sha224',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.1': 'sha1', // ecdsa-with-SHA1
  '1.2.840.10045.4.3.1': 'sha224',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.10040.4.3': 'sha1', // dsa-with-sha1
  '2.16.840.1.101.3.4.3.1': 'sha224', // dsa-with-sha224
  '2.16.840.1.101.3.4.3.2': 'sha256', // dsa-with-sha256
  '2.16.840.1.101.3.4.3.9': 'sha3-224', // ecdsa-with-sha3-*
  '2.16.840.1.101.3.4.3.10': 'sha3-256',
  '2.16.840.1.101.3.4.3.11': 'sha3-384',
  '2.16.840.1.101.3.4.3.12': 'sha3-512',
  '2.16.840.1.101.3.4.3.13': 'sha3-224', // rsassa-pkcs1-v1_5-with-sha3-*
  '2.16.840.1.101.3.4.3.14': 'sha3-256',
  '2.16.840.1.101.3.4.3.15': 'sha3-384',
  '2.16.840.1.101.3.4.3.16': 'sha3-512',
  '1.3.101.112': null, // Ed25519: no separate hash, so RFC 5929 leaves the binding undefined
  '1.3.101.113': null, // Ed448
};

// Digest algorithm OIDs, for RSASSA-PSS parameters.
const DIGEST_OID: Record<string, string> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.4': 'sha224',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};
const RSASSA_PSS = '1.2.840.113549.1.1.10';

type Asn1 = forge.asn1.Asn1;

function children(node: Asn1 | undefined): Asn1[] {
  return node && Array.isArray(node.value) ? node.value : [];
}

function oidOf(node: Asn1 | undefined): string | null {
  if (!node || node.type !== forge.asn1.Type.OID || typeof node.value !== 'string') return null;
  return forge.asn1.derToOid(node.value);
}

/** The hash named by the certificate's signatureAlgorithm, or null when it names none we know. */
export function certificateSignatureHash(certDer: Buffer): string | null {
  // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm AlgorithmIdentifier, signatureValue }.
  // Read the ASN.1 directly: forge's certificate parser only understands RSA keys.
  const cert = forge.asn1.fromDer(forge.util.createBuffer(certDer.toString('binary')));
  const sigAlg = children(cert)[1];
  const [oidNode, params] = children(sigAlg);
  const oid = oidOf(oidNode);
  if (oid === null) throw new Error('certificate has no signatureAlgorithm');
  if (oid === RSASSA_PSS) {
    // RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] HashAlgorithm DEFAULT sha1, ... } (RFC 4055)
    const tagged = children(params).find((n) => n.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && n.type === 0);
    if (!tagged) return 'sha1';
    const hashOid = oidOf(children(children(tagged)[0])[0]);
    return hashOid !== null ? DIGEST_OID[hashOid] ?? null : null;
  }
  return SIG_HASH[oid] ?? null;
}

/**
 * tls-server-end-point (RFC 5929 §4.1): the hash of the server certificate (DER), where the hash
 * is the one of its signature algorithm, except that MD5 and SHA-1 are replaced by SHA-256.
 * Null when the algorithm has no single hash (e.g. Ed25519): the binding is undefined then.
 */
export function tlsServerEndPoint(certDer: Buffer): Buffer | null {
  let hash = certificateSignatureHash(certDer);
  if (hash === null) return null;
  if (hash === 'md5' || hash === 'sha1') hash = 'sha256';
  return createHash(hash).update(certDer).digest();
}

export interface ChannelBindings {
  /** Available types, preferred first (tls-exporter, RFC 9266 §4). */
  types: ChannelBindingType[];
  get(type: ChannelBindingType): Buffer | null;
}

export interface ChannelBindingPolicy {
  /** This side of the connection (tls-unique depends on it); default 'server'. */
  role?: 'server' | 'client';
  /** Offer tls-unique: always, only below TLS 1.3 ('tls12'), or never; default 'always'. */
  tlsUnique?: 'always' | 'tls12' | 'never';
}

/**
 * Binding data for one TLS connection, computed once after the handshake, preferred type first
 * (tls-exporter, RFC 9266 §4; tls-unique last). On the server side `serverCertDer` defaults to the
 * certificate the socket presented (right even with SNI); on the client side pass
 * `sock.getPeerCertificate().raw` and role 'client'.
 */
export function channelBindingsFor(sock: TLSSocket, serverCertDer?: Buffer, policy: ChannelBindingPolicy = {}): ChannelBindings {
  const data = new Map<ChannelBindingType, Buffer>();
  const exporter = tlsExporter(sock);
  if (exporter) data.set('tls-exporter', exporter);
  let der = serverCertDer;
  if (!der) {
    const local = sock.getCertificate();
    if (local && 'raw' in local) der = (local as PeerCertificate).raw;
  }
  if (der && der.length > 0) {
    try {
      const endPoint = tlsServerEndPoint(der);
      if (endPoint) data.set('tls-server-end-point', endPoint);
    } catch {
      // An unparsable certificate just means this binding type is not offered.
    }
  }
  const uniqueMode = policy.tlsUnique ?? 'always';
  if (uniqueMode === 'always' || (uniqueMode === 'tls12' && sock.getProtocol() !== 'TLSv1.3')) {
    const unique = tlsUnique(sock, policy.role ?? 'server');
    if (unique) data.set('tls-unique', unique);
  }
  return {
    types: [...data.keys()],
    get: (type) => data.get(type) ?? null,
  };
}

/** tls-server-end-point of the certificates the server holds (long-lived DER buffers): hashed once each. */
const endPointOfHeld = new WeakMap<Buffer, Buffer | null>();

function heldEndPoint(der: Buffer): Buffer | null {
  let v = endPointOfHeld.get(der);
  if (v === undefined) {
    try {
      v = tlsServerEndPoint(der);
    } catch {
      v = null; // an unparsable certificate just means this binding type is not offered
    }
    endPointOfHeld.set(der, v);
  }
  return v;
}

/**
 * The server side's bindings for one TLS connection, with the types decided at once and the data read only
 * when a -PLUS exchange asks for it (most logins use none, and reading the served certificate back from
 * the socket costs more than the rest of a login's crypto). `heldDer` is the certificate configured for the
 * connection's SNI name: it decides whether tls-server-end-point is offered; the binding data hashes the
 * certificate the socket was really served (`servedDer`, different if a renewal landed mid-handshake).
 */
export function serverChannelBindings(sock: TLSSocket, heldDer: Buffer | undefined, servedDer: () => Buffer | undefined,
  policy: Omit<ChannelBindingPolicy, 'role'> = {}): ChannelBindings {
  const types: ChannelBindingType[] = [];
  if (sock.getProtocol() === 'TLSv1.3') types.push('tls-exporter');
  if (heldDer && heldDer.length > 0 && heldEndPoint(heldDer)) types.push('tls-server-end-point');
  // tls-unique is the handshake's Finished message: taken now, as the handshake just ended.
  const uniqueMode = policy.tlsUnique ?? 'always';
  const unique = uniqueMode === 'always' || (uniqueMode === 'tls12' && sock.getProtocol() !== 'TLSv1.3') ? tlsUnique(sock, 'server') : null;
  if (unique) types.push('tls-unique');
  const data = new Map<ChannelBindingType, Buffer | null>();
  const compute = (type: ChannelBindingType): Buffer | null => {
    if (type === 'tls-exporter') return tlsExporter(sock);
    if (type === 'tls-unique') return unique;
    let der: Buffer | undefined;
    try {
      der = servedDer();
    } catch {
      der = undefined; // the socket is gone
    }
    if (!der || der.length === 0) der = heldDer;
    if (!der) return null;
    if (der === heldDer || (heldDer && der.equals(heldDer))) return heldEndPoint(heldDer!);
    try {
      return tlsServerEndPoint(der);
    } catch {
      return null;
    }
  };
  return {
    types,
    get: (type) => {
      if (!types.includes(type)) return null;
      let v = data.get(type);
      if (v === undefined) data.set(type, (v = compute(type)));
      return v;
    },
  };
}
