// The SDK as an external package sees it: a package outside this tree that imports only `xmppd/sdk`
// type-checks with Element's methods typed (not `any`), typed service lookups, and no way to ctx.core.
// Each `@ts-expect-error` line fails the build if the error it expects is gone (e.g. Element became any).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

const SOURCE = `
import { defineModule, xml, serviceKey, ROSTER_SERVICE, type Element, type RosterItem } from 'xmppd/sdk';

interface CounterApi { count(): number }
const COUNTER = serviceKey<CounterApi>('counter');

export default defineModule({
  name: 'typed',
  start(ctx) {
    ctx.provide(COUNTER, { count: () => 1 });
    // @ts-expect-error a provider must fulfil the key's contract
    ctx.provide(COUNTER, { count: () => 'one' });
    const n: number | undefined = ctx.service(COUNTER)?.count();

    ctx.hook('filter_packet', async (el, { to }) => {
      const body: Element | undefined = el.getChild('body');
      const text: string | undefined = body?.getText();
      const type: string | undefined = el.attrs.type;
      // @ts-expect-error getChild takes an element name, not a number
      el.getChild(42);
      // @ts-expect-error Element has no such method: it is typed, not any
      el.noSuchMethod();
      const reply: Element = xml('message', { to: to.toString() }).c('body').t(text ?? '').up();
      const roster = ctx.service(ROSTER_SERVICE);
      const items: RosterItem[] = roster ? await roster.items(to.bare()) : [];
      // @ts-expect-error a roster item's subscription is a known state
      const bad: RosterItem['subscription'] = 'sometimes';
      void [n, type, reply, items, bad];
      return undefined;
    });

    // @ts-expect-error the core is internal: modules use the context's methods
    void ctx.core;
    const ok: boolean = ctx.inAcl('admin', {}) && ctx.allowed('register', {});
    void ok;
  },
});
`;

let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xmppd-sdk-types-'));
  await mkdir(join(dir, 'node_modules'));
  await mkdir(join(dir, 'src'));
  await symlink(ROOT, join(dir, 'node_modules', 'xmppd'), 'dir'); // as `npm link xmppd` would
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'typed-module', type: 'module', private: true }));
  await writeFile(join(dir, 'src', 'index.ts'), SOURCE);
});
after(() => rm(dir, { recursive: true, force: true }));

function tsc(skipLibCheck: boolean): Promise<{ code: number; out: string }> {
  const tsconfig = {
    compilerOptions: {
      target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true,
      skipLibCheck, types: ['node'], typeRoots: [join(ROOT, 'node_modules', '@types')],
    },
    include: ['src'],
  };
  return writeFile(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig)).then(() => new Promise((resolve) => {
    execFile(process.execPath, [TSC, '-p', dir], { timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: stdout + stderr });
    });
  }));
}

test('an external package using only xmppd/sdk type-checks, with Element and services typed', async () => {
  const r = await tsc(true);
  assert.equal(r.code, 0, `the external package does not type-check:\n${r.out}`);
});

test("the SDK's declarations themselves check cleanly (skipLibCheck off)", async () => {
  const r = await tsc(false);
  assert.equal(r.code, 0, `the SDK's declaration files have errors:\n${r.out}`);
});
