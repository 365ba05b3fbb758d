// Shared parts of the client matrix (issue 10): each real client, with its default settings, logs in over
// STARTTLS (RFC 6120 §5) and direct TLS (XEP-0368) with TLS 1.2 and TLS 1.3, and exchanges a message with bob.
import tls from 'node:tls';
import { describe, test, before, after } from 'node:test';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../../support/harness.js';
import { Logger } from '../../../src/core/log.js';
import { TestCa } from '../interop/test-ca.js';
import { login, nextMessage } from '../interop/xmpp-client.js';
import type { RawClient } from '../../support/raw-client.js';

export type TlsVersion = 'TLSv1.2' | 'TLSv1.3';
export type TlsMode = 'starttls' | 'direct';
export const TLS_VERSIONS: readonly TlsVersion[] = ['TLSv1.2', 'TLSv1.3'];
export const TLS_MODES: readonly TlsMode[] = ['starttls', 'direct'];

export const ALICE = { jid: 'alice@localhost', password: 'alice-pass-1' };
export const BOB = { jid: 'bob@localhost', password: 'bob-pass-1' };

/** A log record of the server (JSON lines). */
export type LogRecord = Record<string, unknown> & { msg: string };

export interface MatrixServer {
  t: TestServer;
  tls: TlsVersion;
  /** The CA that signed the server's certificate (for 'localhost'): what each client is told to trust. */
  caFile: string;
  port(mode: TlsMode): number;
  /** The server's 'authenticated' log records of an account so far, oldest first. */
  logins(account: string): LogRecord[];
  records(): LogRecord[];
  /** bob, logged in with presence over the project's raw client (the other end of each conversation). */
  bob: RawClient;
  /** Wait for bob to receive a message whose body matches; returns its sender (a full JID). */
  bobReceives(body: RegExp): Promise<{ from: string; stanza: string }>;
  /** bob sends alice's `to` (full or bare JID) a chat message. */
  bobSends(to: string, body: string): void;
  stop(): Promise<void>;
}

/**
 * One xmppd per TLS version, shared by a test file. The TLS version is capped on the server (Node's
 * tls.DEFAULT_MAX_VERSION while its TLS contexts are built), so every client keeps its own defaults and
 * meets a TLS 1.2-only server the way it would meet an older deployment.
 */
export async function startMatrixServer(version: TlsVersion, config: Record<string, unknown> = {}): Promise<MatrixServer> {
  const dir = await mkdtemp(join(tmpdir(), 'xmppd-clients-'));
  const ca = new TestCa(dir);
  const cert = ca.issue('localhost', { dns: ['localhost'] });
  const lines: string[] = [];
  const log = new Logger('info', {}, (line) => lines.push(line), false);
  const saved = tls.DEFAULT_MAX_VERSION;
  tls.DEFAULT_MAX_VERSION = version;
  let t: TestServer;
  try {
    t = await startTestServer({ ...config, tls: { cert: cert.certFile, key: cert.keyFile } }, { log });
  } finally {
    tls.DEFAULT_MAX_VERSION = saved;
  }
  await t.addUser('alice', ALICE.password);
  await t.addUser('bob', BOB.password);
  const { c: bob } = await login(t.c2sPort, 'localhost', 'bob', BOB.password, { resource: 'raw' });
  const records = () => lines.map((l) => JSON.parse(l) as LogRecord);
  return {
    t,
    tls: version,
    caFile: ca.certFile,
    port: (mode) => (mode === 'direct' ? t.c2sTlsPort : t.c2sPort),
    records,
    logins: (account) => records().filter((r) => r.msg === 'authenticated' && r.user === account),
    bob,
    async bobReceives(body) {
      const stanza = await nextMessage(bob, body, 15_000);
      const from = /\bfrom=["']([^"']+)["']/.exec(stanza)?.[1];
      if (!from) throw new Error(`no from on ${stanza}`);
      return { from, stanza };
    },
    bobSends(to, body) {
      bob.send(`<message type='chat' to='${to}' id='m-${Date.now()}'><body>${body}</body></message>`);
    },
    async stop() {
      bob.close();
      await t.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * node:test options for a client that may be absent: skipped with the reason on a developer box, run
 * (and failed by requireClient) when CI=true, where .ci/run installs it.
 */
export function clientTestOptions(missing: string | null): { skip: string | false } {
  return { skip: missing !== null && process.env.CI !== 'true' ? missing : false };
}

/** Throw the reason a client is missing (CI=true runs the test anyway, and it must fail). */
export function requireClient(missing: string | null): void {
  if (missing !== null) throw new Error(`${missing} (CI=true: the client matrix is required; .ci/run installs it)`);
}

/** Why an executable is unusable here, or null. */
export function missingExecutable(path: string, args: string[], pkg: string): string | null {
  const r = spawnSync(path, args, { encoding: 'utf8', timeout: 15_000 });
  if (r.status === 0) return null;
  return `${path} is not usable (install Debian's ${pkg}): ${r.error?.message ?? (r.stderr.trim().split('\n').pop() || `exit ${r.status}`)}`;
}

/** A unique message body per test, so a late message of an earlier test can never be taken for this one's. */
export function body(client: string, version: TlsVersion, mode: TlsMode, dir: 'to-bob' | 'to-alice'): string {
  return `${dir} from ${client} ${mode} ${version} ${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * A client's matrix: per TLS version a describe with one shared server, per TLS mode a test named by
 * `title`. `missing`: why the client cannot run here (skipped on a developer box, failed when CI=true).
 */
export function clientMatrix(
  client: string, missing: string | null, title: (mode: TlsMode) => string,
  run: (s: MatrixServer, version: TlsVersion, mode: TlsMode) => Promise<void>,
): void {
  const opts = clientTestOptions(missing);
  for (const version of TLS_VERSIONS) {
    describe(`${client}, defaults, TLS ${version}`, () => {
      let s: MatrixServer;
      before(async () => {
        if (opts.skip) return;
        s = await startMatrixServer(version);
      });
      after(() => s?.stop());
      for (const mode of TLS_MODES) {
        test(title(mode), opts, async () => {
          requireClient(missing);
          await run(s, version, mode);
        });
      }
    });
  }
}
