// `xmppd start --workers N`: the primary process forks N workers with node:cluster. Node 20 has no SO_REUSEPORT,
// so the primary owns the listening sockets and hands each accepted connection to a worker (round robin);
// every worker is a full node of the cluster (config workers.ts). The primary only supervises: it restarts a
// worker that dies, forwards SIGHUP (reload), and on SIGTERM/SIGINT lets every worker drain, then exits.
import cluster, { type Worker } from 'node:cluster';
import type { ServerConfig } from '../core/config/types.js';
import { WORKER_ENV, workerConfig } from '../core/config/workers.js';
import type { Logger } from '../core/log.js';

export function runPrimary(config: ServerConfig, workers: number, log: Logger): void {
  // Round robin by the primary (the default on Linux, said explicitly: the kernel's choice loads one worker).
  cluster.schedulingPolicy = cluster.SCHED_RR;
  const live = new Map<number, Worker>();
  const restarts = new Map<number, number>();
  let stopping = false;

  const fork = (i: number) => {
    // XMPPD_WORKERS: a worker re-reading the file (SIGHUP) sees the same count as --workers gave it.
    const w = cluster.fork({ [WORKER_ENV]: String(i), XMPPD_WORKERS: String(workers) });
    live.set(i, w);
    const startedAt = Date.now();
    w.on('exit', (code, signal) => {
      live.delete(i);
      if (stopping) {
        log.info('worker stopped', { worker: i, code, signal });
        if (live.size === 0) {
          log.info('all workers stopped');
          process.exit(0);
        }
        return;
      }
      // A worker that keeps failing (NATS unreachable, a bad file) is retried less and less often.
      const n = Date.now() - startedAt > 60_000 ? 0 : (restarts.get(i) ?? 0) + 1;
      restarts.set(i, n);
      const delay = Math.min(30_000, 500 * 2 ** Math.min(n, 6));
      log.error('worker exited; starting it again', { worker: i, node: workerConfig(config, i).cluster?.node, code, signal, in_ms: delay });
      setTimeout(() => {
        if (!stopping) fork(i);
      }, delay).unref();
    });
  };

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info('signal received: draining the workers', { signal, workers: live.size });
    // Each worker drains itself on SIGTERM (see-other-host or system-shutdown, offline storage for unacked stanzas).
    for (const w of live.values()) w.process.kill('SIGTERM');
    if (live.size === 0) process.exit(0);
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    log.info('signal received: workers reload their configuration', { signal: 'SIGHUP' });
    for (const w of live.values()) w.process.kill('SIGHUP');
  });

  log.info('starting workers', { workers, nodes: Array.from({ length: workers }, (_, i) => workerConfig(config, i).cluster?.node) });
  for (let i = 0; i < workers; i++) fork(i);
}

export const isWorker = (): boolean => cluster.isWorker;
