// One NATS connection per cluster node (DESIGN.md "Data layer": JetStream for the log, KV for soft state,
// core request/reply between nodes), from the `cluster` config section.
import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import type { ClusterConfig } from '../../core/config/cluster-config.js';

/** Connection options from the config; the client reconnects for ever across every listed server. */
export function natsOptions(cfg: ClusterConfig): NodeConnectionOptions {
  const opts: NodeConnectionOptions = {
    servers: cfg.nats,
    name: `xmppd-${cfg.name}-${cfg.node}`,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    // A JetStream leader election takes seconds: requests must outlive it rather than fail the writer.
    timeout: 10_000,
    pingInterval: 5_000,
  };
  if (cfg.user !== undefined) {
    opts.user = cfg.user;
    opts.pass = cfg.password;
  }
  if (cfg.token !== undefined) opts.token = cfg.token;
  if (cfg.creds_file !== undefined) {
    const file = cfg.creds_file;
    opts.authenticator = credsAuthenticator(() => readFileSync(file)); // re-read at each connect: rotated creds apply
  }
  if (cfg.tls !== undefined) {
    opts.tls = {};
    if (cfg.tls.ca_file !== undefined) opts.tls.caFile = cfg.tls.ca_file;
    if (cfg.tls.cert_file !== undefined) opts.tls.certFile = cfg.tls.cert_file;
    if (cfg.tls.key_file !== undefined) opts.tls.keyFile = cfg.tls.key_file;
  }
  return opts;
}

export function connectNats(cfg: ClusterConfig): Promise<NatsConnection> {
  return connect(natsOptions(cfg));
}
