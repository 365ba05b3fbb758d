// The server configuration after validation: what config/xmppd.example.yaml documents, with defaults applied.
import type { LogLevel } from '../log.js';

export type ListenerType = 'c2s' | 'c2s_tls' | 's2s' | 's2s_tls' | 'http';

export interface ListenerConfig {
  port: number;
  ip: string;
  type: ListenerType;
  /** c2s only: refuse SASL until STARTTLS is done (RFC 6120 §5.3.1: TLS mandatory-to-negotiate). */
  starttls_required: boolean;
}

export interface TlsFiles { cert: string; key: string }

export interface HostConfig { tls?: TlsFiles }

export type AclSpec = Record<string, string[]>; // kind (user, server, ip, user_regexp, resource) -> values
export type AccessRule = Array<{ action: string; acl: string }>;

export interface ServerConfig {
  /** Absolute path of the YAML file this came from ('' for an in-memory config). */
  path: string;
  hosts: string[];
  data_dir: string;
  log_level: LogLevel;
  control_socket: string;
  listen: ListenerConfig[];
  tls?: TlsFiles;
  host_config: Record<string, HostConfig>;
  max_stanza_size: number;
  /** Seconds without any byte from a client before connection-timeout (RFC 6120 §4.9.3.4). */
  c2s_idle_timeout: number;
  /** Seconds a client may take to authenticate and bind. */
  c2s_negotiation_timeout: number;
  /** Failed SASL attempts allowed on one connection before it is closed (RFC 6120 §6.4.5). */
  sasl_max_failures: number;
  /** Bytes queued towards a client that does not read before its session is dropped. */
  max_send_queue: number;
  /** PBKDF2 iterations for newly stored SCRAM credentials. */
  scram_iterations: number;
  module_paths: string[];
  modules: Record<string, Record<string, unknown>>;
  acl: Record<string, AclSpec>;
  access_rules: Record<string, AccessRule>;
}
