// Every error of a configuration in one run. buildConfig stops at the first problem; here each problem
// is recorded and the offending key is taken out of a working copy (so its default applies), and the build
// runs again, until it passes. Paths are reported as in the file (list indices before any removal).
import { ConfigError, buildConfig } from './load-config.js';
import { formatPath, resolvePath, type Segment } from './yaml-path.js';
import { withSuggestion } from './suggest-key.js';
import type { ServerConfig } from './types.js';

export interface FoundError { yamlPath: string; problem: string; segments: Segment[]; rest: string }

/** Removing this many keys without reaching a valid config means the file is not a config at all. */
const MAX_ERRORS = 200;

/**
 * The config with defaults in place of every bad value (null when the top level itself is unusable), and
 * the errors found. A config with errors is only good for further checks (module options), never to run.
 */
export function collectConfig(raw: unknown, path = '', baseDir = process.cwd()): { config: ServerConfig | null; errors: FoundError[] } {
  const work = structuredClone(raw);
  /** For each list of the working copy, the index in the file of each remaining element. */
  const origin = new WeakMap<unknown[], number[]>();
  const errors: FoundError[] = [];
  for (;;) {
    try {
      return { config: buildConfig(work, path, baseDir), errors };
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      const { segments, rest } = resolvePath(work, err.yamlPath);
      const inFile = fileSegments(work, segments, origin);
      const moved = inFile.some((s, i) => s !== segments[i]);
      // A list or mapping emptied by the removal of its bad entries is not a problem of its own.
      const consequence = rest === '' && errors.some((e) => e.segments.length > inFile.length && inFile.every((s, i) => e.segments[i] === s));
      if (!consequence) errors.push({ yamlPath: moved ? formatPath(inFile, rest) : err.yamlPath, problem: withSuggestion(err.problem, inFile), segments: inFile, rest });
      if (segments.length === 0 || errors.length >= MAX_ERRORS) return { config: null, errors };
      remove(work, segments, origin);
    }
  }
}

function fileSegments(root: unknown, segments: Segment[], origin: WeakMap<unknown[], number[]>): Segment[] {
  let node = root;
  return segments.map((seg) => {
    const here = node as Record<string | number, unknown>;
    node = here[seg];
    return typeof seg === 'number' ? (origin.get(here as unknown as unknown[])?.[seg] ?? seg) : seg;
  });
}

function remove(root: unknown, segments: Segment[], origin: WeakMap<unknown[], number[]>): void {
  let parent = root as Record<string | number, unknown>;
  for (const seg of segments.slice(0, -1)) parent = parent[seg] as Record<string | number, unknown>;
  const last = segments[segments.length - 1]!;
  if (Array.isArray(parent) && typeof last === 'number') {
    const idx = origin.get(parent) ?? parent.map((_, i) => i);
    idx.splice(last, 1);
    origin.set(parent, idx);
    parent.splice(last, 1);
  } else {
    delete parent[last];
  }
}
