// `admin_files_dir` and `import_limits`: where REST and ad-hoc admin commands may read and write files
// (export, import, backup, restore), and the bounds an import file must stay within.
import { resolve } from 'node:path';
import type { ImportLimits } from './types.js';

type Fail = (yamlPath: string, problem: string) => never;
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const MIB = 1024 * 1024;
/**
 * The importer streams one <user> at a time, so memory does not grow with the file; the total only bounds
 * how long a hostile file can keep the server busy and how much it can write. 512 MiB holds a XEP-0227 export
 * of well over 100k accounts with rosters and vCards (a few KiB each); larger migrations raise it.
 * One <user> is built in memory (16 MiB: a full offline queue and roster with room to spare), one text node
 * or tag may take 8 MiB (a vCard photo is far smaller), and 64 levels of nesting cover XEP-0227 (6) plus any
 * stanza payload a client sends.
 */
export const DEFAULT_IMPORT_LIMITS: ImportLimits = { max_bytes: 512 * MIB, max_user_bytes: 16 * MIB, max_text_bytes: 8 * MIB, max_depth: 64 };
const KEYS = Object.keys(DEFAULT_IMPORT_LIMITS) as Array<keyof ImportLimits>;

export function buildAdminFilesDir(raw: unknown, dataDir: string, abs: (p: string) => string, fail: Fail): string {
  if (raw === undefined || raw === null) return resolve(dataDir, 'admin-files');
  if (typeof raw !== 'string' || raw === '') return fail('admin_files_dir', 'must be a directory path');
  return abs(raw);
}

export function buildImportLimits(raw: unknown, fail: Fail): ImportLimits {
  if (raw === undefined || raw === null) return { ...DEFAULT_IMPORT_LIMITS };
  if (!isObj(raw)) return fail('import_limits', `must be a mapping (${KEYS.join(', ')})`);
  for (const key of Object.keys(raw)) if (!KEYS.includes(key as keyof ImportLimits)) fail(`import_limits.${key}`, `unknown option (known: ${KEYS.join(', ')})`);
  const out = { ...DEFAULT_IMPORT_LIMITS };
  for (const key of KEYS) {
    const v = raw[key];
    if (v === undefined) continue;
    const min = key === 'max_depth' ? 8 : 1024;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) fail(`import_limits.${key}`, `must be a whole number of at least ${min}`);
    out[key] = v as number;
  }
  return out;
}
