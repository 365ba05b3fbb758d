// The vCard's share of XEP-0227: the account's <vCard xmlns='vcard-temp'/>, imported up to the host's
// vcard.max_size (the limit an IQ set has).
import type { PortableSection } from '../../src/sdk.js';
import { getVcard, setVcard } from './rows.js';

export const vcardPortable: PortableSection<{ max_size: number }> = {
  elements: ['{vcard-temp}vCard'],

  async export(data, user) {
    const card = await getVcard(data, user);
    return { elements: card ? [card] : [], counts: { vcards: card ? 1 : 0 } };
  },

  async import(data, user, elements) {
    const card = elements[0];
    if (!card) return { counts: { vcards: 0 } };
    const size = Buffer.byteLength(card.toString(), 'utf8');
    const max = data.options.max_size;
    if (size > max) {
      return { counts: { vcards: 0 }, overLimit: { vcards: 1 }, warnings: [`${user.bareString()}: the vCard is ${size} bytes, over vcard.max_size (${max}); not imported`] };
    }
    await setVcard(data, user, card);
    return { counts: { vcards: 1 } };
  },
};
