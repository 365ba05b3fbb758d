// Where ACME clients and Prosody put a host's certificate chain and key inside a certificate directory:
// certbot (live/<host>/fullchain.pem), acmetool (live/<host>/fullchain), lego (certificates/<host>.crt),
// Prosody (<host>.crt, <host>/fullchain.pem). A subdomain falls back to its parent's (wildcard) files.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export interface CertFiles {
  cert: string;
  key: string;
  /** Which layout matched (for logs and `cert import` reports). */
  layout: string;
  /** The name the files are filed under: the host itself, or a parent domain whose certificate may cover it. */
  name: string;
}

/** The candidate file pairs for one name in a directory, in search order. */
export function layoutCandidates(dir: string, name: string): CertFiles[] {
  // lego files a wildcard certificate for *.example.com under _.example.com
  return [
    { layout: 'certbot', cert: join(dir, 'live', name, 'fullchain.pem'), key: join(dir, 'live', name, 'privkey.pem') },
    { layout: 'acmetool', cert: join(dir, 'live', name, 'fullchain'), key: join(dir, 'live', name, 'privkey') },
    { layout: 'lego', cert: join(dir, 'certificates', `${name}.crt`), key: join(dir, 'certificates', `${name}.key`) },
    { layout: 'lego', cert: join(dir, 'certificates', `_.${name}.crt`), key: join(dir, 'certificates', `_.${name}.key`) },
    { layout: 'prosody', cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) },
    { layout: 'prosody', cert: join(dir, name, 'fullchain.pem'), key: join(dir, name, 'privkey.pem') },
  ].map((c) => ({ ...c, name }));
}

/** The host first, then its parent domain (Prosody's rule: conference.example.com may use example.com's). */
export function namesFor(host: string): string[] {
  const dot = host.indexOf('.');
  const parent = dot > 0 ? host.slice(dot + 1) : '';
  return parent.includes('.') ? [host, parent] : [host];
}

/**
 * The first pair whose two files both exist. A parent's pair is only a candidate: the caller checks that
 * its certificate names the host (`coversHost`), and ignores it otherwise.
 */
export function findCertFiles(dir: string, host: string): CertFiles[] {
  const out: CertFiles[] = [];
  for (const name of namesFor(host)) {
    for (const c of layoutCandidates(dir, name)) if (existsSync(c.cert) && existsSync(c.key)) out.push(c);
  }
  return out;
}

/** Directories whose entries change when any candidate of the host changes (what to watch). */
export function candidateDirs(dir: string, host: string): string[] {
  const out = new Set<string>([dir, join(dir, 'live'), join(dir, 'certificates')]);
  for (const name of namesFor(host)) {
    out.add(join(dir, 'live', name));
    out.add(join(dir, name));
  }
  return [...out];
}
