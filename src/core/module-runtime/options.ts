// Typed module options: each declares its default and how to validate a YAML value (errors name the path).
export interface OptionSpec<T> {
  readonly kind: string;
  readonly default: T;
  /** Validate a raw value; return an error message, or undefined when fine. */
  check(value: unknown): string | undefined;
}

export type OptionSchema = Record<string, OptionSpec<unknown>>;
export type OptionValues<S extends OptionSchema> = { -readonly [K in keyof S]: S[K]['default'] };

const spec = <T>(kind: string, def: T, check: (v: unknown) => string | undefined): OptionSpec<T> => ({ kind, default: def, check });

export const opt = {
  number: (def: number, range: { min?: number; max?: number; integer?: boolean } = {}) =>
    spec<number>('number', def, (v) => {
      if (typeof v !== 'number' || Number.isNaN(v)) return 'must be a number';
      if (range.integer && !Number.isInteger(v)) return 'must be a whole number';
      if (range.min !== undefined && v < range.min) return `must be at least ${range.min}`;
      if (range.max !== undefined && v > range.max) return `must be at most ${range.max}`;
      return undefined;
    }),
  string: (def: string) => spec<string>('string', def, (v) => (typeof v === 'string' ? undefined : 'must be a string')),
  boolean: (def: boolean) => spec<boolean>('boolean', def, (v) => (typeof v === 'boolean' ? undefined : 'must be true or false')),
  oneOf: <T extends string>(values: readonly T[], def: T) =>
    spec<T>('enum', def, (v) => (values.includes(v as T) ? undefined : `must be one of ${values.join(', ')}`)),
  strings: (def: string[] = []) =>
    spec<string[]>('string[]', def, (v) => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? undefined : 'must be a list of strings')),
};

/** Apply defaults and validate; throws with `${path}.${key}: problem`. */
export function resolveOptions<S extends OptionSchema>(schema: S | undefined, raw: Record<string, unknown>, path: string): OptionValues<S> {
  const out: Record<string, unknown> = {};
  const s = schema ?? ({} as S);
  for (const key of Object.keys(raw)) {
    if (!(key in s)) {
      const known = Object.keys(s);
      throw new OptionError(`${path}.${key}`, `unknown option${known.length ? ` (known: ${known.join(', ')})` : ' (this module takes none)'}`);
    }
  }
  for (const [key, o] of Object.entries(s)) {
    const v = raw[key];
    if (v === undefined) {
      out[key] = o.default;
      continue;
    }
    const problem = o.check(v);
    if (problem) throw new OptionError(`${path}.${key}`, problem);
    out[key] = v;
  }
  return out as OptionValues<S>;
}

export class OptionError extends Error {
  constructor(readonly path: string, readonly problem: string) {
    super(`${path}: ${problem}`);
  }
}
