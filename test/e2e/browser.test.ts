// A real browser as the web client (issue 12): Debian's headless Chromium, driven by playwright-core, loads a
// page served here that uses the browser build of @xmpp/client over XMPP-over-WebSocket (RFC 7395), chats
// with a TCP user, shares a file through an XEP-0363 slot with fetch() across origins (CORS), and is refused
// by a listener whose websocket.origins does not list the page's origin.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startTestServer, type TestServer } from '../support/harness.js';
import { HOSTS, escapeRe } from '../support/each-host.js';
import { RawClient } from '../support/raw-client.js';
import { nextMessage } from './interop/xmpp-client.js';
import { clientTestOptions, missingExecutable, requireClient } from './clients/matrix.js';
import { PAGE_SCRIPT } from './browser/page-script.js';

const CHROMIUM = '/usr/bin/chromium';
const missing = missingExecutable(CHROMIUM, ['--headless', '--no-sandbox', '--version'], 'chromium');
const opts = clientTestOptions(missing);

const require = createRequire(import.meta.url);
const XMPP_JS = readFileSync(join(dirname(require.resolve('@xmpp/client/package.json')), 'dist', 'xmpp.min.js'));
const PAGE = `<!doctype html><meta charset="utf-8"><title>xmppd web client test</title>
<script src="/xmpp.min.js"></script><script>${PAGE_SCRIPT}</script>`;

let t: TestServer;
let pages: Server;
let pageOrigin = '';
let allowedPort = 0;
let refusingPort = 0;
let browser: Browser | undefined;
let page: Page;
const pageErrors: string[] = [];

/** Call window.xmppTest[fn](...args) in the page. */
function inPage<T>(fn: string, ...args: unknown[]): Promise<T> {
  return page.evaluate(([f, a]) => (globalThis as any).xmppTest[f as string](...(a as unknown[])), [fn, args] as const) as Promise<T>;
}

async function timed<T>(c: { diagnostic(m: string): void }, what: string, run: () => Promise<T>): Promise<T> {
  const start = performance.now();
  const r = await run();
  c.diagnostic(`${what}: ${Math.round(performance.now() - start)} ms`);
  return r;
}

before(async () => {
  if (opts.skip) return;
  requireClient(missing);
  // The page's own server: loopback, another port than the XMPP server's, so every request from the page to
  // the XMPP server (WebSocket upgrade, upload PUT and GET) is cross-origin, as for a web client on its own site.
  pages = createServer((req, res) => {
    if (req.url === '/xmpp.min.js') res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(XMPP_JS);
    else if (req.url === '/') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => pages.listen(0, '127.0.0.1', r));
  pageOrigin = `http://127.0.0.1:${(pages.address() as AddressInfo).port}`;
  // The first http listener lists the page's origin (and hosts the upload URLs, the first listener's);
  // the second lists only another site's.
  t = await startTestServer({
    listen: [
      { port: 0, ip: '127.0.0.1', type: 'c2s' },
      { port: 0, ip: '127.0.0.1', type: 'http', websocket: { origins: [pageOrigin] } },
      { port: 0, ip: '127.0.0.1', type: 'http', websocket: { origins: ['https://chat.example.org'] } },
    ],
    modules: { disco: {}, roster: {}, presence: {}, upload: {} },
  });
  [allowedPort, refusingPort] = t.server.listeners.bound.filter((l) => l.type === 'http').map((l) => l.port) as [number, number];
  for (const h of HOSTS) {
    await t.addUser('alice', 'pw-alice', h);
    await t.addUser('bob', 'pw-bob', h);
  }
  // --no-sandbox: Chromium's sandbox cannot start as root (CI containers); the page is our own.
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], timeout: 30_000 });
  page = await browser.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(`${pageOrigin}/`);
  assert.equal(await page.evaluate(() => typeof (globalThis as any).xmppTest?.login), 'function', 'the page and the browser build of @xmpp/client loaded');
});

after(async () => {
  if (browser) {
    await inPage('stopAll').catch(() => {});
    await browser.close();
  }
  if (pages) await new Promise((r) => pages.close(r));
  if (t) await t.stop();
});

const ws = (port: number) => `ws://127.0.0.1:${port}/xmpp-websocket`;

for (const host of HOSTS) {
  describe(`on ${host}`, () => {
    test('the page logs in as alice over ws://, sends bob (on TCP) a message and receives his reply', opts, async (c) => {
      const { c: bob, jid: bobJid } = await RawClient.login(t.c2sPort, 'bob', 'pw-bob', 'tcp', { host });
      try {
        const key = `chat-${host}`;
        const login = await timed(c, 'browser login over ws://', () =>
          inPage<{ jid: string; mechanism: string | null }>('login', key, ws(allowedPort), host, 'alice', 'pw-alice', 'browser'));
        // With SASL2 and Bind2 (the server's default) the resource is the client's tag plus the server's suffix.
        assert.match(login.jid, new RegExp(`^${escapeRe(`alice@${host}/browser`)}`));
        // The browser build of @xmpp/client 0.14 has PLAIN and ANONYMOUS only (its package.json leaves SCRAM out
        // of the browser build); the server offers PLAIN on an unencrypted WebSocket because the peer is loopback.
        assert.equal(login.mechanism, 'PLAIN');
        const body = `hello from the browser on ${host}`;
        await timed(c, 'page -> bob (TCP) -> bob replies -> page', async () => {
          await inPage('send', key, bobJid, body);
          const got = await nextMessage(bob, new RegExp(`<body>${body}</body>`));
          assert.match(got, new RegExp(`from=["']${escapeRe(login.jid)}["']`));
          bob.send(`<message to='${login.jid}' type='chat'><body>hello from tcp on ${host}</body></message>`);
          const reply = await inPage<{ from: string; body: string }>('receive', key, `hello from tcp on ${host}`, 10_000);
          assert.equal(reply.from, bobJid);
        });
      } finally {
        bob.close();
      }
    });

    test(`the page shares a file through upload.${host}: a slot by IQ, PUT and GET with fetch() from another origin`, opts, async (c) => {
      const key = `upload-${host}`;
      await inPage('login', key, ws(allowedPort), host, 'alice', 'pw-alice', 'uploader');
      const size = 200_000;
      const r = await timed(c, `disco + slot + PUT + GET of ${size} bytes`, () => inPage<{
        origin: string; service: string; putUrl: string; getUrl: string; putStatus: number; getStatus: number;
        contentType: string | null; contentLength: string | null; same: boolean; sha256: string;
      }>('upload', key, host, size, 'image/png', 'photo from the browser.png'));
      assert.equal(r.service, `upload.${host}`, 'found through the host\'s disco#items');
      assert.equal(r.origin, pageOrigin);
      assert.notEqual(new URL(r.putUrl).origin, r.origin, 'the upload URL is cross-origin for the page: fetch() needed CORS');
      assert.ok([200, 201].includes(r.putStatus), `PUT answered ${r.putStatus}`);
      assert.equal(r.getStatus, 200);
      assert.equal(r.contentType, 'image/png');
      assert.equal(r.contentLength, String(size), 'Content-Length readable by the page (exposed)');
      assert.equal(r.same, true, 'the page got back the bytes it uploaded');
      // And the server serves those bytes to anyone with the GET URL, not just to the page.
      const res = await fetch(r.getUrl);
      assert.equal(res.headers.get('content-type'), 'image/png');
      assert.equal(createHash('sha256').update(Buffer.from(await res.arrayBuffer())).digest('hex'), r.sha256);
    });
  });
}

test('a listener whose websocket.origins does not list the page\'s origin refuses its upgrade with 403; the page sees the connection fail', opts, async () => {
  const socketErrors: string[] = [];
  const watch = (w: import('playwright-core').WebSocket) => w.on('socketerror', (e) => socketErrors.push(`${w.url()}: ${e}`));
  page.on('websocket', watch);
  try {
    const refused = await inPage<{ opened: boolean; errored: boolean; code: number; protocol: string }>('rawWebSocket', ws(refusingPort));
    assert.deepEqual(refused, { opened: false, errored: true, code: 1006, protocol: '' });
    assert.ok(socketErrors.some((e) => e.startsWith(ws(refusingPort)) && /\b403\b/.test(e)), `the browser saw 403: ${socketErrors.join('; ')}`);
    const err = await inPage<string | null>('loginFails', ws(refusingPort), 'localhost', 'alice', 'pw-alice');
    assert.notEqual(err, null, '@xmpp/client could not log in');
    // The same page, the same moment, the listener that lists its origin: the upgrade succeeds.
    const allowed = await inPage<{ opened: boolean; protocol: string }>('rawWebSocket', ws(allowedPort));
    assert.equal(allowed.opened, true);
    assert.equal(allowed.protocol, 'xmpp');
  } finally {
    page.off('websocket', watch);
  }
});

test('the page ran without uncaught errors', opts, () => {
  assert.deepEqual(pageErrors, []);
});
