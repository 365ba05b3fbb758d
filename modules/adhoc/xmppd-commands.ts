// The rest of the admin command registry (modules, server status, federation, the loaded modules' own
// commands) as ad-hoc commands under urn:xmppd:admin#<name>, their forms built from the registry's args.
import { parse as parseYaml } from 'yaml';
import type { CommandInfo } from '../../src/sdk.js';
import { badPayload, resultForm, type FieldSpec, type FormValues } from './forms.js';
import { attempt, type AdhocCommand, type Note, type RunEnv } from './command.js';

export const NS_XMPPD_ADMIN = 'urn:xmppd:admin';

/** Registry commands with an XEP-0133 node (xep0133.ts) are not offered twice. */
const COVERED = new Set(['user.add', 'user.del', 'user.passwd', 'user.list', 'sessions.list', 'session.kick']);

const LABELS: Record<string, Partial<FieldSpec>> = {
  jid: { type: 'jid-single', label: 'Jabber ID' },
  password: { type: 'text-private', label: 'Password' },
  host: { label: 'Host' },
  name: { label: 'Module name' },
  options: { type: 'text-multi', label: 'Options (a YAML or JSON mapping; empty for the defaults)' },
  file: { label: 'File name (inside the admin files directory)' },
  overwrite: { type: 'boolean', label: 'Replace the file if it exists' },
};

function argField(def: CommandInfo, arg: string, env: RunEnv): FieldSpec {
  const name = arg.replace(/\?$/, '');
  const f: FieldSpec = { var: name, type: 'text-single', label: name, ...LABELS[name], required: !arg.endsWith('?') };
  // Unloading or reloading picks among the loaded modules.
  const loaded = name === 'name' && (def.name === 'module.unload' || def.name === 'module.reload') ? env.modules() : [];
  if (loaded.length) return { ...f, type: 'list-single', options: loaded.map((m) => ({ value: m.name, label: `${m.name} (${m.status})` })) };
  return f;
}

function argValue(name: string, type: FieldSpec['type'], v: FormValues): unknown {
  if (type !== 'text-multi') return v.one(name);
  const text = v.all(name).join('\n').trim();
  if (name !== 'options' || text === '') return text; // no options: the module's defaults (or, on reload, its current ones)
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (err) {
    throw badPayload(`the options are not valid YAML: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw badPayload('the options must be a mapping such as {show_os: true}');
  return parsed;
}

/** What to say on success, where the result form alone says little. */
const DONE: Record<string, (args: Record<string, unknown>) => string> = {
  'module.load': (a) => `Module ${a.name} loaded.`,
  'module.unload': (a) => `Module ${a.name} unloaded.`,
  'module.reload': (a) => `Module ${a.name} reloaded.`,
};

function registryCommand(def: CommandInfo): AdhocCommand {
  const id = def.name.replace(/\./g, '-');
  return {
    node: `${NS_XMPPD_ADMIN}#${id}`,
    name: def.description,
    formType: NS_XMPPD_ADMIN,
    instructions: def.args.length ? `${def.description}.` : undefined,
    fields: (env) => def.args.map((a) => argField(def, a, env)),
    async run(env, v) {
      const args: Record<string, unknown> = {};
      for (const f of def.args.map((a) => argField(def, a, env))) {
        const value = argValue(f.var, f.type, v);
        if (value !== '') args[f.var] = value; // an empty optional argument is left out: the registry's default
      }
      const r = await attempt(env, def.name, args);
      if (!r.ok) return { notes: [{ type: 'error', text: r.error }] };
      const notes: Note[] = DONE[def.name] ? [{ type: 'info', text: DONE[def.name]!(args) }] : [];
      return { notes, form: resultForm(NS_XMPPD_ADMIN, def.description, r.result) };
    },
  };
}

/** Every registry command (the modules' included) without an XEP-0133 equivalent, in registry order. */
export function xmppdCommands(registry: CommandInfo[]): AdhocCommand[] {
  return registry.filter((d) => !COVERED.has(d.name)).map(registryCommand);
}
