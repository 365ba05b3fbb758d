// The local control socket (unix, mode 0600) the CLI's admin verbs use, like ejabberdctl/prosodyctl.
// Protocol: one JSON request per line {id, cmd, args}; one JSON reply per line {id, ok, result|error}.
import { createServer, type Server, type Socket } from 'node:net';
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import type { Logger } from '../../core/log.js';
import { OperatorError } from '../../core/errors.js';
import { runCommand, type AdminTarget } from '../../core/admin/commands.js';

const MAX_LINE = 1024 * 1024;

export class ControlServer {
  private server: Server | null = null;
  private readonly clients = new Set<Socket>();

  constructor(private readonly path: string, private readonly target: AdminTarget, private readonly log: Logger) {}

  async start(): Promise<void> {
    if (existsSync(this.path)) {
      // A socket left by a crashed server is removed; one that answers means another server is running.
      if (await isAlive(this.path)) throw new OperatorError('XMPPD_ERR_RUNNING', `another server is already running on control socket ${this.path}`);
      unlinkSync(this.path);
    }
    const server = createServer((sock) => this.serve(sock));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      const old = process.umask(0o177); // create the socket 0600 from the start, not chmod after
      // exclusive: a worker of `xmppd start --workers N` binds its own socket (node:cluster would share it via the primary)
      server.listen({ path: this.path, exclusive: true }, () => {
        process.umask(old);
        resolve();
      });
    });
    chmodSync(this.path, 0o600);
    this.server = server;
  }

  private serve(sock: Socket): void {
    this.clients.add(sock);
    sock.on('close', () => this.clients.delete(sock));
    sock.on('error', () => {});
    // The CLI hanging up (Ctrl-C, its timeout) cancels what it asked for: an import stops between two users.
    const cancel = new AbortController();
    sock.on('close', () => cancel.abort());
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_LINE) return sock.destroy();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        void this.handle(sock, line, cancel.signal);
      }
    });
  }

  private async handle(sock: Socket, line: string, signal: AbortSignal): Promise<void> {
    let req: { id?: unknown; cmd?: unknown; args?: Record<string, unknown> };
    try {
      req = JSON.parse(line);
    } catch {
      sock.write(JSON.stringify({ ok: false, error: 'request is not valid JSON' }) + '\n');
      return;
    }
    try {
      // Whoever can open this socket (0600) is the server's own user: file commands take any path.
      // runCommand logs the command, its target and its outcome (command-audit.ts).
      const result = await runCommand(this.target, String(req.cmd), req.args ?? {}, { origin: 'cli', signal });
      sock.write(JSON.stringify({ id: req.id, ok: true, result }) + '\n');
    } catch (err) {
      const known = err instanceof OperatorError;
      sock.write(JSON.stringify({ id: req.id, ok: false, error: (err as Error).message, code: known ? (err as OperatorError).code : 'XMPPD_ERR_INTERNAL' }) + '\n');
    }
  }

  async stop(): Promise<void> {
    for (const c of this.clients) c.destroy();
    if (this.server) await new Promise<void>((r) => this.server!.close(() => r()));
    this.server = null;
  }
}

function isAlive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
