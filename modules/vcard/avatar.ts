// XEP-0153 vCard-Based Avatars: the photo hash of a vCard and its <x xmlns='vcard-temp:x:update'/> in
// presence, injected by the server on the user's behalf as XEP-0398 §4 describes.
import { createHash } from 'node:crypto';
import { xml, type Element } from '../../src/sdk.js';

export const NS_VCARD = 'vcard-temp';
export const NS_VCARD_UPDATE = 'vcard-temp:x:update';

/**
 * The lower-case hex SHA-1 of the decoded PHOTO/BINVAL (XEP-0153 §3.1: the hash of the image data, not of
 * its base64 form; §4.6: whitespace in the base64 is ignored), or null when the vCard has no image data.
 */
export function photoHash(vcard: Element): string | null {
  const binval = vcard.getChild('PHOTO')?.getChildText('BINVAL');
  if (!binval) return null;
  const data = Buffer.from(binval.replace(/\s+/g, ''), 'base64');
  if (data.length === 0) return null;
  return createHash('sha1').update(data).digest('hex');
}

/**
 * Put the hash into an available presence. XEP-0398 §4: a client's empty <photo/> ("no image", or a
 * reset in progress, XEP-0153 §4.4) is left alone; an <x/> without <photo/> ("not ready", XEP-0153
 * §4.1 rule 2) MUST be overwritten; a non-empty <photo/> MAY be, and we leave it: a conforming client
 * only advertises a hash after downloading the current vCard (XEP-0153 §4.2 rule 1). Returns whether
 * the presence changed.
 */
export function injectPhoto(presence: Element, hash: string | null): boolean {
  const existing = presence.getChildren('x', NS_VCARD_UPDATE);
  if (existing.some((x) => x.getChild('photo') !== undefined)) return false;
  for (const x of existing) presence.remove(x);
  const photo = xml('photo');
  if (hash) photo.t(hash);
  presence.cnode(xml('x', { xmlns: NS_VCARD_UPDATE }, photo));
  return true;
}
