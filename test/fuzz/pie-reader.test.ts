// Fuzzing the XEP-0227 reader on real files: random, mutated, gzipped and self-including documents give
// users or a CommandError naming the file, never another exception, a stack overflow or a hang.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import type { Element } from '@xmpp/xml';
import { PieReader } from '../../src/core/portable/pie-reader.js';
import { DEFAULT_IMPORT_LIMITS } from '../../src/core/config/admin-files-config.js';

/** The server's default import bounds, with positions as the CLI's operator sees them. */
const READER_OPTS = { limits: DEFAULT_IMPORT_LIMITS, positions: true };
import { CommandError } from '../../src/core/admin/command-def.js';
import { describeRun, fuzz } from './support/fuzz-run.js';
import { mutate, mutationArb, nodeArb, serialize } from './support/xml-gen.js';

let dir: string;
let n = 0;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xmppd-fuzz-pie-'));
});
after(() => rm(dir, { recursive: true, force: true }));

const PIE = "xmlns='urn:xmpp:pie:0'";
const userArb = fc.tuple(fc.constantFrom('alice', 'bob', 'é', ''), fc.array(nodeArb({ depth: 4 }), { maxLength: 3 }))
  .map(([name, kids]) => `<user name='${name}' password='pw'>${kids.map((k) => serialize(k)).join('')}` +
    "<query xmlns='jabber:iq:roster'><item jid='bob@localhost' subscription='both'><group>g</group></item></query></user>");
const docArb = fc.oneof(
  fc.array(fc.tuple(fc.constantFrom('localhost', 'example.com', ''), fc.array(userArb, { maxLength: 3 })), { maxLength: 3 })
    .map((hosts) => `<?xml version='1.0' encoding='UTF-8'?>\n<server-data ${PIE}>${hosts.map(([h, us]) => `<host jid='${h}'>${us.join('')}</host>`).join('')}</server-data>`),
  fc.constantFrom(
    `<server-data ${PIE} xmlns:xi='http://www.w3.org/2001/XInclude'><xi:include href='other.xml'/><xi:include href='../escape.xml'/><xi:include href='self.xml'/><xi:include href='%ZZ'/><xi:include/></server-data>`,
    `<host ${PIE} jid='localhost'><user name='carol'/></host>`,
    "<server-data xmlns='http://www.xmpp.org/extensions/xep-0227.html#ns'><host jid='localhost'><user name='old'/></host></server-data>",
    `<!DOCTYPE x [<!ENTITY e 'x'>]><server-data ${PIE}>&e;</server-data>`, `<server-data ${PIE}><!-- c --><host/></server-data>`,
    `<wrong ${PIE}/>`, '', '\ufeff', `<server-data ${PIE}><host jid='localhost'><user name='a'>${'<x>'.repeat(200)}${'</x>'.repeat(200)}</user></host></server-data>`,
    `<server-data ${PIE}><host jid='localhost'><user name='a'>${'<x>'.repeat(50000)}${'</x>'.repeat(50000)}</user></host></server-data>`,
  ),
);

/** Reads one file; returns the users it gave, or null after a CommandError. Any other outcome fails. */
async function readDoc(bytes: Buffer, gz: boolean, asDir: boolean): Promise<Element[] | null> {
  const sub = join(dir, `c${n++}`);
  const { mkdir } = await import('node:fs/promises');
  await mkdir(sub);
  const file = join(sub, gz ? 'main.xml.gz' : 'main.xml');
  await writeFile(file, gz ? gzipSync(bytes) : bytes);
  await writeFile(join(sub, 'self.xml'), bytes); // an include target that includes itself again
  await writeFile(join(sub, 'other.xml'), `<host ${PIE} jid='localhost'><user name='inc'/></host>`);
  const users: Element[] = [];
  const reader = new PieReader({
    user: async (_h, el) => {
      users.push(el);
      el.toString(); // what the importer does with private XML: must not overflow the stack either
    },
    skip: () => {},
    warn: () => {},
  }, READER_OPTS);
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('the reader did not finish within 20 s')), 20_000); });
  try {
    await Promise.race([reader.read(asDir ? sub : file), hang]);
    return users;
  } catch (err) {
    assert.ok(err instanceof CommandError, `read() threw ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`);
    assert.ok(err.message.includes(sub) || /no such file|holds no/.test(err.message), `error does not name the file: ${err.message}`);
    return null;
  } finally {
    clearTimeout(timer);
    await rm(sub, { recursive: true, force: true });
  }
}

test('XEP-0227 reader: random and mutated files (plain, gzip, a directory) give users or a CommandError', async (t) => {
  const r = await fuzz(
    fc.asyncProperty(
      fc.oneof({ weight: 4, arbitrary: docArb.map((d) => Buffer.from(d, 'utf8')) }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)) }),
      fc.option(fc.array(mutationArb, { minLength: 1, maxLength: 4 }), { freq: 3 }),
      fc.boolean(), fc.boolean(),
      async (doc, muts, gz, asDir) => {
        await readDoc(muts ? mutate(doc, muts) : doc, gz, asDir);
      },
    ),
    150,
  );
  t.diagnostic(describeRun(r));
});
