// Test harness: a real 3-server NATS JetStream cluster (Debian's nats-server) on loopback ports, each server in
// its own temp store directory, with kill -9 / restart of one server for failover tests.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const NATS_SERVER = ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find((p) => existsSync(p)) ?? 'nats-server';

/** Why NATS tests cannot run here (null when nats-server is installed). */
export const natsUnavailable: string | null = (() => {
  const r = spawnSync(NATS_SERVER, ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? null : 'nats-server is not installed (Debian package nats-server)';
})();

/**
 * Project policy: skip visibly on a developer machine without nats-server, never in CI (there it fails).
 * Use as `describe(name, { skip: natsSkip() }, ...)`.
 */
export function natsSkip(): string | false {
  if (natsUnavailable === null) return false;
  if (process.env.CI === 'true') throw new Error(`${natsUnavailable} (CI=true: the cluster tests are required)`);
  return natsUnavailable;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

export interface NatsServerHandle {
  readonly name: string;
  readonly clientPort: number;
  readonly url: string;
  proc: ChildProcess | null;
}

export class NatsCluster {
  readonly servers: NatsServerHandle[] = [];
  private constructor(private readonly dir: string, private readonly routePorts: number[]) {}

  /** Client URLs of every server (what `cluster.nats` lists). */
  get urls(): string[] {
    return this.servers.map((s) => s.url);
  }

  /**
   * Starts `size` JetStream servers forming one cluster (size 1: a standalone JetStream server). A port is free
   * when chosen but may be taken before nats-server binds it (tests run side by side): when the cluster does
   * not come up with every server a JetStream peer, it starts again on fresh ports.
   */
  static async start(size = 3): Promise<NatsCluster> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await NatsCluster.startOnce(size);
      } catch (err) {
        // A port taken meanwhile, or a cluster whose routes never formed (a route port taken): fresh ports.
        if (attempt >= 3) throw err;
      }
    }
  }

  private static async startOnce(size: number): Promise<NatsCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'xmppd-nats-'));
    const clientPorts: number[] = [];
    const routePorts: number[] = [];
    for (let i = 0; i < size; i++) {
      clientPorts.push(await freePort());
      routePorts.push(await freePort());
    }
    const c = new NatsCluster(dir, routePorts);
    for (let i = 0; i < size; i++) {
      const name = `n${i + 1}`;
      c.servers.push({ name, clientPort: clientPorts[i]!, url: `nats://127.0.0.1:${clientPorts[i]}`, proc: null });
      writeFileSync(join(dir, `${name}.conf`), c.configFor(i));
    }
    try {
      await Promise.all(c.servers.map((_, i) => c.startServer(i)));
      await c.waitJetStreamReady();
    } catch (err) {
      await c.stop();
      throw err;
    }
    return c;
  }

  private configFor(i: number): string {
    const s = this.servers[i]!;
    const lines = [
      `server_name: ${s.name}`,
      `listen: 127.0.0.1:${s.clientPort}`,
      `jetstream { store_dir: "${join(this.dir, s.name)}" }`,
    ];
    if (this.routePorts.length > 1) {
      const routes = this.routePorts.map((p) => `nats-route://127.0.0.1:${p}`).join(', ');
      lines.push(`cluster { name: xmppd_test, listen: 127.0.0.1:${this.routePorts[i]}, routes: [${routes}] }`);
    }
    return lines.join('\n') + '\n';
  }

  /** (Re)starts server i with its store directory; resolves when it accepts clients. */
  async startServer(i: number): Promise<void> {
    const s = this.servers[i]!;
    const proc = spawn(NATS_SERVER, ['-c', join(this.dir, `${s.name}.conf`)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
    s.proc = proc;
    const deadline = Date.now() + 15_000;
    while (!(await portOpen(s.clientPort))) {
      if (proc.exitCode !== null) throw new Error(`nats-server ${s.name} exited: ${stderr}`);
      if (Date.now() > deadline) throw new Error(`nats-server ${s.name} did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** kill -9 server i (its store directory stays, so startServer(i) brings it back). */
  async kill(i: number): Promise<void> {
    const s = this.servers[i]!;
    const proc = s.proc;
    s.proc = null;
    if (proc === null || proc.exitCode !== null) return;
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await gone;
  }

  /** Index of the server whose name is `serverName` (as JetStream reports leaders and consumer hosts). */
  indexOf(serverName: string): number {
    return this.servers.findIndex((s) => s.name === serverName);
  }

  /** Waits until JetStream has a meta leader and every server as a peer (a stream of `size` replicas can be placed). */
  private async waitJetStreamReady(): Promise<void> {
    const { connect: natsConnect } = await import('@nats-io/transport-node');
    const { jetstreamManager } = await import('@nats-io/jetstream');
    const nc = await natsConnect({ servers: this.urls });
    try {
      const deadline = Date.now() + 30_000;
      for (;;) {
        try {
          const jsm = await jetstreamManager(nc, { timeout: 2000 });
          await jsm.getAccountInfo();
          // A meta leader is not enough: every server must be a JetStream peer before a stream with one replica
          // per server can be placed (a route still forming answers "no suitable peers for placement").
          const probe = `READY_${process.pid}_${Date.now()}`;
          await jsm.streams.add({ name: probe, subjects: [`${probe}.x`], num_replicas: this.servers.length });
          await jsm.streams.delete(probe);
          return;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    } finally {
      await nc.close();
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((_, i) => this.kill(i)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
