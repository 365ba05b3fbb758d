// The capability hashes: XEP-0115 §5.1 verification string (with the §5.4 well-formedness rules for
// duplicate identities, features and forms) and XEP-0390 §4 hash function input, over parsed disco#info.
import { createHash } from 'node:crypto';
import { formTypeField, type CapsForm, type DiscoData } from './disco-data.js';

/**
 * XEP-0115 hash names (IANA "Hash Function Textual Names") this server verifies, to node:crypto names.
 * md2/md5 are left out on purpose: a weak hash makes the shared cache poisonable (§5.4 and §11.3), so
 * caps with them are only kept per session, like legacy caps.
 */
export const CAPS1_HASHES: Readonly<Record<string, string>> = {
  'sha-1': 'sha1', 'sha-224': 'sha224', 'sha-256': 'sha256', 'sha-384': 'sha384', 'sha-512': 'sha512',
};

/** XEP-0390 hash names (XEP-0300 §4) this server verifies, best first; sha-1 is forbidden there. */
export const CAPS2_HASHES: Readonly<Record<string, string>> = {
  'sha-256': 'sha256', 'sha3-256': 'sha3-256', 'sha-512': 'sha512', 'sha3-512': 'sha3-512', 'blake2b-512': 'blake2b512',
};

const utf8 = (s: string) => Buffer.from(s, 'utf8');
/** i;octet collation (RFC 4790): UTF-8 byte order, which JS string comparison is not for astral characters. */
const octetSort = (items: Buffer[]): Buffer[] => items.sort(Buffer.compare);
const sortStrings = (items: string[]): string[] => octetSort(items.map(utf8)).map((b) => b.toString('utf8'));
const hasDuplicates = (items: string[]) => new Set(items).size !== items.length;

const digest = (algo: string, input: Buffer | string) => createHash(algo).update(input).digest('base64');

/**
 * The XEP-0115 §5.1 verification string ('ver') of a disco#info answer with hash `algo`, or null when the
 * answer is ill-formed (§5.4: duplicate identity or feature, two forms with one FORM_TYPE, a FORM_TYPE with
 * differing values) or the algorithm is not one this server verifies.
 */
export function caps1Ver(info: DiscoData, algo: string): string | null {
  const hash = CAPS1_HASHES[algo];
  if (!hash) return null;
  const s = caps1String(info);
  return s === null ? null : digest(hash, s);
}

/** The §5.1 string S the hash is taken of (exported for tests against the XEP's worked examples). */
export function caps1String(info: DiscoData): string | null {
  const ids = info.identities.map((i) => `${i.category}/${i.type}/${i.lang ?? ''}/${i.name ?? ''}`);
  if (hasDuplicates(ids) || hasDuplicates(info.features)) return null; // §5.4 3.3, 3.4
  let s = '';
  for (const id of sortStrings(ids)) s += `${id}<`;
  for (const f of sortStrings([...info.features])) s += `${f}<`;
  const byType = new Map<string, CapsForm>();
  for (const form of info.forms) {
    const ft = formTypeField(form);
    if (!ft) continue; // a form without FORM_TYPE is no XEP-0128 extension: not part of the hash
    if (new Set(ft.values).size !== 1) return null; // §5.4 3.5: FORM_TYPE with several different values
    const type = ft.values[0]!;
    if (byType.has(type)) return null; // §5.4 3.5: two forms with the same FORM_TYPE
    byType.set(type, form);
  }
  for (const type of sortStrings([...byType.keys()])) {
    const form = byType.get(type)!;
    if (formTypeField(form)!.type !== 'hidden') continue; // §5.4 3.6: ignore the form, go on
    s += `${type}<`;
    const fields = form.fields.filter((f) => f.var !== 'FORM_TYPE');
    const vars = sortStrings(fields.map((f) => f.var));
    for (const v of vars) {
      s += `${v}<`;
      const field = fields.find((f) => f.var === v)!;
      for (const value of sortStrings([...field.values])) s += `${value}<`;
    }
  }
  return s;
}

const US = 0x1f; // unit separator
const RS = 0x1e; // record separator
const GS = 0x1d; // group separator
const FS = 0x1c; // file separator

const withByte = (parts: Buffer[], byte: number): Buffer => Buffer.concat([...parts, Buffer.of(byte)]);
const unit = (s: string): Buffer => withByte([utf8(s)], US);

/**
 * The XEP-0390 §4 hash function input of a disco#info answer, or null where §4 says to abort: elements
 * other than identities, features and data forms (step 1), tabular forms (step 2), forms without FORM_TYPE
 * (step 3).
 */
export function caps2Input(info: DiscoData): Buffer | null {
  if (info.foreign > 0) return null;
  if (info.forms.some((f) => f.tabular || !formTypeField(f))) return null;
  const features = withByte(octetSort(info.features.map(unit)), FS);
  const identities = withByte(octetSort(info.identities.map((i) => withByte(
    [unit(i.category), unit(i.type), unit(i.lang ?? info.inheritedLang ?? ''), unit(i.name ?? '')], RS))), FS);
  const forms = withByte(octetSort(info.forms.map((form) => withByte(octetSort(form.fields.map((f) => withByte(
    [unit(f.var), ...octetSort(f.values.map(unit))], RS))), GS))), FS);
  return Buffer.concat([features, identities, forms]);
}

/** The base64 XEP-0390 hash of a disco#info answer with `algo`, or null (see caps2Input; unknown algo). */
export function caps2Hash(info: DiscoData, algo: string): string | null {
  const hash = CAPS2_HASHES[algo];
  if (!hash) return null;
  const input = caps2Input(info);
  return input === null ? null : digest(hash, input);
}
