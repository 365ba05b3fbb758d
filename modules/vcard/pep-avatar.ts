// XEP-0398 User Avatar to vCard-Based Avatars Conversion: an XEP-0084 avatar published to PEP becomes the
// vCard PHOTO (XEP-0153 clients, MUC occupants and the presence hash see it), and a vCard PHOTO becomes the
// PEP avatar. Each direction compares before it writes, so the notice of its own write ends there: no loops.
import { createHash } from 'node:crypto';
import { PEP_SERVICE, xml, type Element, type Jid, type ModuleContext, type PepApi } from '../../src/sdk.js';
import { NS_VCARD, photoHash } from './avatar.js';
import { imageInfo } from './image-info.js';
import { getVcard, setVcard } from './rows.js';

export const NS_CONVERSION = 'urn:xmpp:pep-vcard-conversion:0';
const NS_DATA = 'urn:xmpp:avatar:data';
const NS_METADATA = 'urn:xmpp:avatar:metadata';

const sha1 = (data: Buffer) => createHash('sha1').update(data).digest('hex');

export interface AvatarConversion {
  /** Run fn under the account's conversion lock (vCard sets and PEP jobs never interleave). */
  locked<T>(owner: Jid, fn: () => Promise<T>): Promise<T>;
  /** A vCard set stored `card` (null: cleared) over a vCard whose photo hash was `before`: update the PEP avatar. */
  vcardStored(owner: Jid, before: string | null, card: Element | null): Promise<void>;
}

/** The <info/> elements of the account's current avatar metadata ([] when none or disabled). */
async function currentInfos(pep: PepApi, owner: Jid): Promise<Element[]> {
  const [meta] = await pep.items(owner, NS_METADATA, { max: 1 });
  return meta && meta.payload.name === 'metadata' && meta.payload.getNS() === NS_METADATA ? meta.payload.getChildren('info') : [];
}

export function avatarConversion(ctx: ModuleContext<{ max_size: number }>): AvatarConversion {
  const locked = <T>(owner: Jid, fn: () => Promise<T>) => ctx.lock(`avatar\u0000${owner.bareString()}`, fn);

  /** PEP -> vCard (XEP-0398 §3.1): the current metadata's image with data in PEP becomes the PHOTO. */
  const pepToVcard = async (pep: PepApi, owner: Jid): Promise<void> => {
    const infos = await currentInfos(pep, owner);
    let photo: { type: string; data: Buffer; hash: string } | null = null;
    // "MUST pick the info element that does not point to an external URL"; its data item has its id.
    for (const info of infos) {
      const id = info.attrs.id?.toLowerCase();
      if (info.attrs.url !== undefined || !id) continue;
      const [item] = await pep.items(owner, NS_DATA, { ids: [info.attrs.id] });
      if (!item || item.payload.name !== 'data' || item.payload.getNS() !== NS_DATA) continue;
      const data = Buffer.from(item.payload.getText().replace(/\s+/g, ''), 'base64');
      // "SHOULD verify that the SHA-1 hash of the image matches the id"
      if (data.length === 0 || sha1(data) !== id) {
        ctx.log.info('avatar: PEP data does not match its metadata id; not converted', { owner: owner.bareString(), id });
        continue;
      }
      photo = { type: info.attrs.type ?? imageInfo(data).type ?? 'image/png', data, hash: id };
      break;
    }
    if (infos.length && !photo) return; // only external URLs (or no data yet): nothing a vCard can hold
    const card = await getVcard(ctx, owner);
    if ((card ? photoHash(card) : null) === (photo?.hash ?? null)) return;
    const next = card ?? xml('vCard', { xmlns: NS_VCARD });
    for (const old of next.getChildren('PHOTO')) next.remove(old);
    if (photo) next.cnode(xml('PHOTO', {}, xml('TYPE', {}, photo.type), xml('BINVAL', {}, photo.data.toString('base64'))));
    const size = Buffer.byteLength(next.toString(), 'utf8');
    if (size > ctx.options.max_size) {
      ctx.log.info('avatar: the vCard with the PEP avatar would exceed vcard.max_size; not converted', { owner: owner.bareString(), size });
      return;
    }
    await setVcard(ctx, owner, next);
  };

  // Jobs from PEP notices: never awaited by the notice (the publish behind it may be ours, under the lock);
  // a job still waiting covers every change before it starts.
  const waiting = new Set<string>();
  ctx.hook('pep_item_published', ({ owner, node }) => {
    if (node !== NS_METADATA) return; // clients publish the data first (XEP-0084 §4.1): the metadata decides
    const key = owner.bareString();
    if (waiting.has(key)) return;
    waiting.add(key);
    void locked(owner, async () => {
      waiting.delete(key);
      const pep = ctx.service(PEP_SERVICE);
      if (pep) await pepToVcard(pep, owner);
    }).catch((err: unknown) => ctx.log.warn('avatar: converting a PEP avatar to the vCard failed', { owner: key, err }));
  });

  return {
    locked,
    /** vCard -> PEP (XEP-0398 §3.2): data first, then metadata with one <info/>; an emptied PHOTO disables it. */
    async vcardStored(owner, before, card) {
      const pep = ctx.service(PEP_SERVICE);
      if (!pep) return;
      const hash = card ? photoHash(card) : null;
      const infos = await currentInfos(pep, owner);
      if (hash) {
        if (infos.some((i) => i.attrs.id?.toLowerCase() === hash)) return; // already the PEP avatar
        const photo = card!.getChild('PHOTO')!;
        const data = Buffer.from(photo.getChildText('BINVAL')!.replace(/\s+/g, ''), 'base64');
        const sniffed = imageInfo(data);
        const type = photo.getChildText('TYPE')?.trim() || sniffed.type || 'image/png';
        const size = sniffed.width !== undefined && sniffed.height !== undefined ? { width: String(sniffed.width), height: String(sniffed.height) } : {};
        await pep.publish(owner, NS_DATA, { id: hash, payload: xml('data', { xmlns: NS_DATA }, data.toString('base64')) });
        await pep.publish(owner, NS_METADATA, { id: hash, payload: xml('metadata', { xmlns: NS_METADATA }, xml('info', { id: hash, bytes: String(data.length), type, ...size })) });
      } else if (before && infos.some((i) => i.attrs.id?.toLowerCase() === before)) {
        // The photo the PEP avatar came from was removed: an empty <metadata/> disables it (XEP-0084 §4.5).
        await pep.publish(owner, NS_METADATA, { payload: xml('metadata', { xmlns: NS_METADATA }) });
      }
    },
  };
}
