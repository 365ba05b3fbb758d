// Test harness: a real server in-process on ephemeral loopback ports, LevelDB in a temp dir.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { buildConfig } from '../../src/core/config/load-config.js';
import { Logger } from '../../src/core/log.js';
import { Jid } from '../../src/core/jid.js';
import { startServer, type XmppServer } from '../../src/main.js';
import { ensureSelfSignedCertificate } from '../../src/interface/tls/self-signed.js';

export interface TestServer {
  server: XmppServer;
  dir: string;
  domain: string;
  c2sPort: number;
  c2sTlsPort: number;
  certPem: string;
  addUser(local: string, password: string, domain?: string): Promise<void>;
  stop(): Promise<void>;
}

/** config/test.yaml, the base every test server starts from. */
const BASE_CONFIG = parse(readFileSync(fileURLToPath(new URL('../../../config/test.yaml', import.meta.url)), 'utf8')) as Record<string, unknown>;

let sharedCert: Promise<{ cert: string; key: string; certPem: string }> | null = null;

/** One self-signed certificate per test process (RSA key generation is slow). */
function testCertificate(): Promise<{ cert: string; key: string; certPem: string }> {
  sharedCert ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'xmppd-test-cert-'));
    const c = await ensureSelfSignedCertificate(dir, ['localhost', 'example.test']);
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    return { cert: join(dir, 'self-signed.crt'), key: join(dir, 'self-signed.key'), certPem: c.certPem };
  })();
  return sharedCert;
}

/** The PEM file of the self-signed certificate test servers present (unless `tls` is overridden): what a
 *  third-party client is told to trust, as a user of a server with a self-signed certificate does. */
export async function testCertificateFile(): Promise<string> {
  return (await testCertificate()).cert;
}

/** The virtual hosts of config/test.yaml: every test server serves both (localhost is the default). */
export const HOSTS: readonly string[] = BASE_CONFIG.hosts as string[];

/** Overrides naming both hosts explicitly (config/test.yaml already has both): startTestServer(TWO_HOSTS). */
export const TWO_HOSTS: Readonly<Record<string, unknown>> = { hosts: [...HOSTS] };

/** The base config with `overrides` applied; host_config entries of hosts the overrides drop go too. */
function testConfig(overrides: Record<string, unknown>): Record<string, unknown> {
  const merged = { ...BASE_CONFIG, ...overrides };
  const hosts = merged.hosts as string[];
  if (!('host_config' in overrides) && BASE_CONFIG.host_config) {
    merged.host_config = Object.fromEntries(Object.entries(BASE_CONFIG.host_config as Record<string, unknown>).filter(([h]) => hosts.includes(h)));
  }
  return merged;
}

export async function startTestServer(overrides: Record<string, unknown> = {}, opts: { log?: Logger; dir?: string } = {}): Promise<TestServer> {
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'xmppd-test-')));
  const cert = await testCertificate();
  const config = buildConfig({
    ...testConfig(overrides),
    data_dir: dir,
    control_socket: join(dir, 'ctl.sock'),
    tls: { cert: cert.cert, key: cert.key },
    ...overrides,
  });
  let server: XmppServer;
  try {
    server = await startServer(config, { log: opts.log ?? new Logger('silent') });
  } catch (err) {
    if (!opts.dir) await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const domain = config.hosts[0]!;
  return {
    server,
    dir,
    domain,
    c2sPort: server.listeners.bound.find((l) => l.type === 'c2s')?.port ?? 0,
    c2sTlsPort: server.listeners.bound.find((l) => l.type === 'c2s_tls')?.port ?? 0,
    certPem: cert.certPem,
    addUser: (local, password, d = domain) => server.core.accounts.create(Jid.of(local, d), password),
    async stop() {
      await server.stop();
      if (!opts.dir) await rm(dir, { recursive: true, force: true });
    },
  };
}
