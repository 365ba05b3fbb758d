// One account's vCard row (table vcard_cards, key `${domain}/${local}`, as index.ts stores it), for the
// admin commands and XEP-0227 export/import; the module follows writes through the table's change feed.
import { elementFromJson, elementToJson, type DataContext, type Element, type ElementJson, type Jid } from '../../src/sdk.js';
import { photoHash } from './avatar.js';

export const VCARD_TABLE = 'vcard_cards';
interface VcardRow { card: ElementJson; photo: string | null }

const keyOf = (bare: Jid) => `${bare.domain}/${bare.local}`;

export async function getVcard(data: Pick<DataContext, 'table'>, bare: Jid): Promise<Element | null> {
  const row = await data.table<VcardRow>(VCARD_TABLE).get(keyOf(bare));
  return row ? elementFromJson(row.value.card) : null;
}

/** Replace the vCard (XEP-0054 §3.2: no partial updates); an empty one clears it, as an IQ set does. */
export async function setVcard(data: Pick<DataContext, 'store'>, bare: Jid, vcard: Element): Promise<void> {
  const key = keyOf(bare);
  const empty = vcard.getChildElements().length === 0 && vcard.getText().trim() === '';
  const value: VcardRow = { card: elementToJson(vcard), photo: photoHash(vcard) };
  await data.store.transact([empty ? { type: 'del', table: VCARD_TABLE, key } : { type: 'put', table: VCARD_TABLE, key, value: value as never }]);
}
