// Renders hooks/README.md from the runtime catalogue (CORE_HOOKS), so the doc cannot drift from the code.
// Regenerate with: npm run hooks:readme
import { CORE_HOOKS } from './index.js';

/** Markdown table cells may not contain a bare pipe. */
const cell = (s: string) => s.replace(/\|/g, '\\|');

export function renderHooksReadme(): string {
  const rows = Object.entries(CORE_HOOKS)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, s]) => `| \`${name}\` | ${s.kind} | ${s.scope === 'global' ? 'server-wide' : cell(s.host ?? 'host')} | ${s.kind === 'filter' ? `\`${cell(s.value ?? '')}\`` : '-'} | \`${cell(s.ctx)}\` | ${s.drop ? 'yes' : 'no'} | ${cell(s.doc)} |`);
  return [
    '# Hook catalogue',
    '',
    'Generated from `hooks/*.ts` by `npm run hooks:readme`; do not edit by hand.',
    '',
    'Two kinds, as in ejabberd: **notify** hooks run every handler; **filter** hooks fold a value through',
    'their handlers. A handler returns nothing (unchanged), a replacement value, `STOP` (end the chain) or',
    '`DROP` (discard the stanza, only where allowed). Higher priority runs first (default 50), ties in',
    'registration order; a handler that throws is logged and counted and the chain goes on.',
    '',
    'Chains are per (hook, host). Each firing names the virtual host it concerns (column "host"): only that',
    "host's handlers run, merged by priority with the global ones. In a module, `ctx.hook(name, handler,",
    "priority)` registers for the module's own host, so a handler never sees another host's stanzas and",
    'needs no host check; `ctx.hookGlobal(name, handler, priority)` registers for every host (and is the only',
    'way to handle a server-wide hook). Both are removed when the module stops.',
    '',
    '| hook | kind | host | value | context | DROP | when |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
    'Third-party hooks: declare the types by declaration merging and the runtime spec with',
    '`ctx.declareHook(name, spec)` (`scope: \'global\'` for a server-wide hook; fire it with host null):',
    '',
    '```ts',
    "declare module 'xmppd/hooks' {",
    '  interface HookCatalogue { my_event: { kind: \'notify\'; ctx: { room: string } } }',
    '}',
    '```',
    '',
  ].join('\n');
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\/dist\//, '/dist/'))) {
  const { writeFileSync } = await import('node:fs');
  const target = new URL('../../hooks/README.md', import.meta.url);
  writeFileSync(target, renderHooksReadme());
  console.log(`wrote ${target.pathname}`);
}
