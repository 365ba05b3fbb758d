// Client side of the control socket: one request, one reply.
import { connect } from 'node:net';

export class NotRunningError extends Error {}

export function callServer(socketPath: string, cmd: string, args: Record<string, unknown>, timeoutMs = 60_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no answer from the server on ${socketPath} within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    sock.setEncoding('utf8');
    sock.once('connect', () => sock.write(JSON.stringify({ id: 1, cmd, args }) + '\n'));
    sock.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      sock.end();
      const reply = JSON.parse(buf.slice(0, nl)) as { ok: boolean; result?: unknown; error?: string };
      if (reply.ok) resolve(reply.result);
      else reject(new Error(reply.error));
    });
    sock.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') reject(new NotRunningError(`the server is not running (no control socket at ${socketPath})`));
      else if (err.code === 'EACCES') reject(new Error(`permission denied on ${socketPath}: run as the user the server runs as`));
      else reject(err);
    });
  });
}
