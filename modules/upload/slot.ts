// XEP-0363 §4-5: a slot request (<request filename size content-type/>) checked against the service's
// rules — who may upload, the largest file, the allowed types, the user's quota — and answered with the
// signed PUT URL and the permanent GET URL of a new file id.
import { StanzaError, xml, type Element, type Jid } from '../../src/sdk.js';
import { newFileId, type Signer } from './signing.js';
import type { Ledger } from './ledger.js';

export const NS_UPLOAD = 'urn:xmpp:http:upload:0';

export interface SlotRules {
  /** Whether this requester may upload (access rule, or the host's own accounts). */
  mayUpload(from: Jid): boolean;
  maxFileSize: number;
  /** Allowed media types ("image/png", "image/*"); empty: any. */
  allowedTypes: string[];
  quota: number;
  putTtl: number;
  /** "<base>/upload/<host>/", or null when no HTTP listener or base_url gives one. */
  prefixUrl(): string | null;
}

/** A media type without parameters, lowercased ("text/plain; charset=utf-8" keeps only "text/plain"). */
const MEDIA_TYPE = /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/;

/** A media type as a client sent it, normalised; null when it is not one. */
export function mediaType(raw: string | undefined): string | null {
  if (raw === undefined) return null;
  const t = raw.split(';')[0]!.trim().toLowerCase();
  return MEDIA_TYPE.test(t) ? t : null;
}

export function typeAllowed(type: string, allowed: string[]): boolean {
  return allowed.length === 0 || allowed.some((a) => a === type || (a.endsWith('/*') && type.startsWith(a.slice(0, -1))));
}

/**
 * A filename as it appears in the URL and Content-Disposition: no path separators, control or bidirectional
 * formatting characters (which disguise extensions), no leading dots, at most 100 characters.
 */
export function sanitiseFilename(raw: string): string {
  let s = raw.normalize('NFC').replace(/[\u0000-\u001f\u007f-\u009f/\\\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '_').trim();
  s = s.replace(/^\.+/, '_');
  const chars = [...s];
  if (chars.length > 100) {
    const dot = s.lastIndexOf('.');
    const ext = dot > 0 && s.length - dot <= 16 ? s.slice(dot) : '';
    s = chars.slice(0, 100 - [...ext].length).join('') + ext;
  }
  return s || 'file';
}

export async function requestSlot(req: Element, from: Jid, rules: SlotRules, signer: Signer, ledger: Ledger): Promise<Element> {
  const rawName = req.attrs.filename as string | undefined;
  const rawSize = req.attrs.size as string | undefined;
  if (!rawName || rawSize === undefined || !/^\d+$/.test(rawSize)) {
    throw new StanzaError('bad-request', 'a slot request names the file (filename) and its size in bytes (size)');
  }
  if (!rules.mayUpload(from)) throw new StanzaError('not-allowed', 'you may not upload files to this service', 'cancel');
  const size = Number(rawSize);
  if (size > rules.maxFileSize) {
    // §5: the limit, machine-readable
    throw new StanzaError('not-acceptable', `File too large. The maximum file size is ${rules.maxFileSize} bytes`, 'modify',
      xml('file-too-large', { xmlns: NS_UPLOAD }, xml('max-file-size', {}, String(rules.maxFileSize))));
  }
  let type = '';
  if (req.attrs['content-type'] !== undefined) {
    const t = mediaType(req.attrs['content-type'] as string);
    if (!t) throw new StanzaError('bad-request', `"${req.attrs['content-type']}" is not a media type`);
    type = t;
  }
  if (type && !typeAllowed(type, rules.allowedTypes)) {
    throw new StanzaError('not-acceptable', `files of type ${type} are not accepted here (allowed: ${rules.allowedTypes.join(', ')})`, 'modify');
  }
  const owner = from.bare().toString();
  if (rules.quota > 0) {
    const used = (await ledger.usageOf(owner)).bytes;
    if (used + size > rules.quota) {
      throw new StanzaError('resource-constraint', `Quota reached: ${used} of ${rules.quota} bytes used; files expire or can be uploaded when there is room for ${size} more bytes`, 'wait');
    }
  }
  const prefix = rules.prefixUrl();
  if (!prefix) throw new StanzaError('service-unavailable', 'the server has no HTTP listener to upload to', 'cancel');
  const id = newFileId();
  const name = sanitiseFilename(rawName);
  const getUrl = `${prefix}${signer.token(id)}/${encodeURIComponent(name)}`;
  const exp = Math.floor(Date.now() / 1000) + rules.putTtl;
  const putUrl = `${getUrl}?${signer.putQuery({ id, name, size, type, owner, exp })}`;
  return xml('slot', { xmlns: NS_UPLOAD }, xml('put', { url: putUrl }), xml('get', { url: getUrl }));
}
