// XEP-0054 vcard-temp (users' vCards stored by the server, readable by anyone) and XEP-0153 vCard-based
// avatars: the server adds the photo hash to every available presence its users send (XEP-0398 §4), and
// with the pep module converts between PEP avatars and the vCard PHOTO (XEP-0398 §3, pep-avatar.ts).
import { defineModule, opt, xml, StanzaError, PEP_SERVICE, type Element, type IqRequest, type Jid, elementFromJson, elementToJson, type ElementJson } from '../../src/sdk.js';
import { injectPhoto, photoHash, NS_VCARD } from './avatar.js';
import { avatarConversion, NS_CONVERSION } from './pep-avatar.js';
import { vcardCommands } from './commands.js';
import { vcardPortable } from './portable.js';

const TABLE = 'vcard_cards';
/** One row per account: the whole vCard (no partial updates, XEP-0054 §3.2) and its photo hash. */
interface VcardRow { card: ElementJson; photo: string | null }

const keyOf = (bare: Jid) => `${bare.domain}/${bare.local}`;
/** Photo hashes kept in memory; presence is frequent, vCard changes are rare. */
const HASH_CACHE_SIZE = 10_000;

export default defineModule({
  name: 'vcard',
  description: 'vCards (vcard-temp) and vCard-based avatar hashes in presence',
  xeps: ['XEP-0054', 'XEP-0153', 'XEP-0398'],
  optional: ['pep'], // XEP-0398 conversion needs PEP_SERVICE: start after it
  // XEP-0054 §4: advertised by the server; also on accounts, whose bare JIDs answer vCard requests.
  features: [NS_VCARD],
  accountFeatures: [NS_VCARD],
  options: {
    /** Largest vCard accepted, in bytes of serialized XML (photos included). */
    max_size: opt.number(65_536, { min: 256, integer: true }),
    /** XEP-0398: convert PEP avatars (XEP-0084) to the vCard PHOTO and back, while the pep module runs. */
    pep_conversion: opt.boolean(true),
  },
  portable: vcardPortable,
  // Its rows of a deleted account, committed with the account row (also with the server stopped).
  removeUser: (_data, user) => [{ type: 'del', table: TABLE, key: keyOf(user) }],
  start(ctx) {
    const table = ctx.table<VcardRow>(TABLE);
    vcardCommands(ctx);
    // XEP-0398 §2: advertised on the account; only when PEP runs at start (reload vcard after loading pep).
    const conversion = ctx.options.pep_conversion && ctx.service(PEP_SERVICE) ? avatarConversion(ctx) : null;
    if (conversion) ctx.feature(NS_CONVERSION, 'account');

    // bare JID -> photo hash (null: no photo). `epoch` moves on every change so that a read which
    // raced with a write does not cache what it read (the write's invalidation may have run first).
    const hashes = new Map<string, string | null>();
    let epoch = 0;
    // Invalidate from the change feed: it also sees writes made by other cluster nodes and deletions.
    // Rows are keyed `${host}/${local}`: this instance watches its own host's only.
    ctx.watch(TABLE, (ev) => {
      epoch++;
      const slash = ev.key.indexOf('/');
      hashes.delete(`${ev.key.slice(slash + 1)}@${ev.key.slice(0, slash)}`);
    }, { prefix: `${ctx.host}/` });

    const hashOf = async (bare: Jid): Promise<string | null> => {
      const k = bare.bareString();
      const cached = hashes.get(k);
      if (cached !== undefined) return cached;
      const seen = epoch;
      const hash = (await table.get(keyOf(bare)))?.value.photo ?? null;
      if (seen === epoch) {
        if (hashes.size >= HASH_CACHE_SIZE) hashes.delete(hashes.keys().next().value!);
        hashes.set(k, hash);
      }
      return hash;
    };

    const userVcard = async (req: IqRequest): Promise<Element | null> => {
      if (req.payload.name !== 'vCard') throw new StanzaError('bad-request', 'the payload must be <vCard xmlns="vcard-temp"/>');
      const owner = req.to.bare();
      const self = req.from.bare().equals(owner);
      if (req.type === 'get') {
        const row = await table.get(keyOf(owner));
        if (row) return elementFromJson(row.value.card);
        // XEP-0054 §3.1 allows an empty vCard or item-not-found for one's own: the empty vCard is what
        // clients expect. §3.3 (v1.3): for someone else's, service-unavailable, the same answer as for a
        // user that does not exist (no directory harvesting).
        if (self) return xml('vCard', { xmlns: NS_VCARD });
        throw new StanzaError('service-unavailable');
      }
      // XEP-0054 §3.2: only the owner updates a vCard (forbidden or not-allowed; forbidden it is).
      if (!self) throw new StanzaError('forbidden', 'only the owner may update a vCard');
      const size = Buffer.byteLength(req.payload.toString(), 'utf8');
      // XEP-0054 sets no limit; a size cap is local service policy (RFC 6120 §8.3.3.12).
      if (size > ctx.options.max_size) {
        throw new StanzaError('policy-violation', `the vCard is ${size} bytes; this server accepts up to ${ctx.options.max_size}`);
      }
      const key = keyOf(owner);
      // Setting an empty vCard clears it: store nothing rather than an empty element.
      const empty = req.payload.getChildElements().length === 0 && req.payload.getText().trim() === '';
      const value: VcardRow = { card: elementToJson(req.payload), photo: photoHash(req.payload) };
      const write = () => ctx.store.transact([empty ? { type: 'del', table: TABLE, key } : { type: 'put', table: TABLE, key, value: value as never }]);
      if (!conversion) await write();
      else {
        // Under the conversion lock: a PEP avatar being copied into the vCard cannot overwrite this set.
        await conversion.locked(owner, async () => {
          const before = (await table.get(key))?.value.photo ?? null;
          await write();
          // The vCard is stored and the set succeeds whatever PEP answers; a failure is logged.
          await conversion.vcardStored(owner, before, empty ? null : req.payload).catch((err: unknown) => {
            ctx.log.warn('avatar: publishing the vCard photo to PEP failed', { owner: owner.bareString(), err });
          });
        });
      }
      hashes.delete(owner.bareString());
      return null;
    };
    ctx.iq('account', NS_VCARD, userVcard);

    // The server's own vCard (XEP-0054 §3.3 note: servers may have one): a fixed, read-only card
    // naming the service; operators do not edit it over XMPP.
    ctx.iq('host', NS_VCARD, (req) => {
      if (req.type !== 'get') throw new StanzaError('not-allowed', "the server's vCard is read-only");
      return xml('vCard', { xmlns: NS_VCARD }, xml('FN', {}, ctx.host), xml('DESC', {}, 'XMPP server (xmppd)'));
    });

    // XEP-0153 §4.1 / XEP-0398 §4: every available presence, broadcast or directed (MUC joins too),
    // carries the photo hash. Runs before the presence module (priority 50) broadcasts the stanza.
    ctx.hook('c2s_presence_out', async (el, { session }) => {
      if (el.attrs.type !== undefined) return;
      const hash = await hashOf(session.jid.bare());
      injectPhoto(el, hash);
      return el;
    }, 70);
  },
});
