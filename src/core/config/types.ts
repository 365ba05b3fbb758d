// The server configuration after validation: what config/xmppd.example.yaml documents, with defaults applied.
import type { LogLevel } from '../log.js';
import type { DurabilityConfig } from './durability-config.js';
import type { ClusterConfig } from './cluster-config.js';
import type { ChannelBindingConfig } from './channel-binding-config.js';
import type { Sasl2Config } from './sasl2-config.js';
import type { WebSocketConfig } from './websocket-config.js';
import type { BoshConfig } from './bosh-config.js';

export type ListenerType = 'c2s' | 'c2s_tls' | 's2s' | 's2s_tls' | 'http' | 'https' | 'component';

export interface ListenerConfig {
  port: number;
  ip: string;
  type: ListenerType;
  /** c2s only: refuse SASL until STARTTLS is done (RFC 6120 §5.3.1: TLS mandatory-to-negotiate). */
  starttls_required: boolean;
  /** http/https only: XMPP over WebSocket (RFC 7395) and XEP-0156 discovery. */
  websocket?: WebSocketConfig;
  /** http/https only: XMPP over BOSH (XEP-0124, XEP-0206). */
  bosh?: BoshConfig;
}

export interface TlsFiles { cert: string; key: string }
/** A directory certbot, lego, acmetool or Prosody fill, searched per host and watched for renewals (cert-dir-config.ts). */
export interface TlsCertDir { certificates: string }
/** `tls:` (global or per host): one cert/key pair, or a certificate directory. */
export type TlsSettings = TlsFiles | TlsCertDir;

/** Where a host's accounts and passwords live (src/core/auth). */
export interface AuthConfig {
  /** internal (default), external (an ejabberd extauth program), or a name a module registers. */
  method: string;
  /** external: the program to run (a bare name is looked up in PATH), and its arguments. */
  program?: string;
  program_args: string[];
  /** external: how many copies of the program run side by side. */
  pool_size: number;
  /** external: seconds to wait for an answer before temporary-auth-failure (and a restart). */
  timeout: number;
  /** Seconds a provider's positive answers are remembered (0: ask it every time). */
  cache_ttl: number;
}

export interface HostConfig {
  tls?: TlsSettings;
  auth?: AuthConfig;
  /** ACLs of this host only; a name here overrides the global ACL of that name on this host. */
  acl?: Record<string, AclSpec>;
  /** Access rules of this host only; a rule here replaces the global rule of that name on this host. */
  access_rules?: Record<string, AccessRule>;
  /** Module changes on this host (src/core/config/host-modules.ts): options merged over the global ones, or false to remove. */
  modules?: Record<string, Record<string, unknown> | false>;
}

/** RFC 6120 §13.7.2 / XEP-0178 / XEP-0220: what a peer domain must show to be accepted. */
export type S2sPolicy = 'require_valid_cert' | 'allow_dialback';

/** Where to reach a peer domain instead of asking DNS (private federations, tests). */
export interface S2sTargetOverride { host: string; port: number; tls: 'direct' | 'starttls' }

export interface S2sConfig {
  /** Federation on/off; by default on when an s2s or s2s_tls listener is configured (dialback needs peers to reach us). */
  enabled: boolean;
  /** Default policy for peer domains; domain_policy overrides it per domain. */
  policy: S2sPolicy;
  domain_policy: Record<string, S2sPolicy>;
  /** Outbound streams refuse peers that do not offer STARTTLS (inbound: the listener's starttls_required). */
  require_encryption: boolean;
  /** Extra trust anchors (PEM bundle) for peer certificates, on top of the system store when system_ca. */
  cafile?: string;
  system_ca: boolean;
  /** XEP-0185 dialback secret; random per start when absent (set it on every node of a cluster). */
  dialback_secret?: string;
  overrides: Record<string, S2sTargetOverride>;
  /** DNS servers ('ip' or 'ip:port') for SRV/A/AAAA lookups instead of the system resolver. */
  dns_servers: string[];
  /** Seconds without stanzas before a stream is closed (reopened on demand). */
  idle_timeout: number;
  /** Seconds from the first queued stanza until the stream must be authenticated (else remote-server-timeout). */
  connect_timeout: number;
  /** Stanzas queued per pending outbound stream; more bounce with resource-constraint. */
  max_queue: number;
}

/** One shaper (ejabberd's c2s_shaper/s2s_shaper): rates per connection; 0 = unlimited. */
export interface ShaperConfig {
  bytes_per_second: number;
  stanzas_per_second: number;
  /** Seconds a connection may stay over its rates before it is closed with policy-violation; 0 = only slow it. */
  max_burst: number;
}

/** Shapers and limits (src/core/limits); 0 = unlimited. */
export interface LimitsConfig {
  c2s: ShaperConfig;
  s2s: ShaperConfig;
  /** Bound resources per account; one more bind gets <resource-constraint/> (RFC 6120 §7.6.2.1). */
  max_sessions_per_user: number;
  /** Open c2s connections per client IP; one more gets a <policy-violation/> stream error. */
  max_connections_per_ip: number;
  /** XEP-0077 accounts created in-band per client IP in any hour. */
  registrations_per_ip_per_hour: number;
  /** Open connections per IP on s2s/s2s_tls, component and http/https listeners (counted before any TLS handshake). */
  max_s2s_connections_per_ip: number;
  max_component_connections_per_ip: number;
  max_http_connections_per_ip: number;
  /** Seconds a direct-TLS connection (c2s_tls, s2s_tls, https) may take to complete its handshake. */
  tls_handshake_timeout: number;
  /** Seconds an HTTP connection may stay without a complete request (idle, or a slow request head). */
  http_request_timeout: number;
  /** Bytes a c2s, s2s or component stream may send before it has authenticated (and, c2s, bound). */
  pre_auth_bytes: number;
  /** Dialback verifications (XEP-0220) waiting at once per inbound s2s stream, and per peer address. */
  dialback_pending_per_stream: number;
  dialback_pending_per_ip: number;
  /** ACL names never shaped or limited. */
  exempt: string[];
  /** Throttling of failed authentication (SASL, component handshakes, admin API tokens). */
  auth: AuthLimitsConfig;
}

/** limits.auth (src/core/limits/auth-throttle-config.ts): delays and temporary locks after failed authentication. */
export interface AuthLimitsConfig {
  /** Failures (per address, per account) answered at once; later ones are answered after a growing delay. */
  failures_before_delay: number;
  /** The first delay; each further failure doubles it, up to max_delay_ms. 0 = no delays. */
  delay_ms: number;
  max_delay_ms: number;
  /** Failures from one address that lock it for lock_seconds; 0 = never lock. */
  max_failures_per_ip: number;
  /** The first lock of an address; each further lock doubles it, up to max_lock_seconds. */
  lock_seconds: number;
  max_lock_seconds: number;
  /** One recorded failure is forgotten every this many seconds (not while the address is locked). */
  failure_decay_seconds: number;
  /** Addresses and accounts remembered per kind; the least recently seen are forgotten first. */
  max_tracked: number;
}

/** An XEP-0114 external component: its domain is the key of `components`. */
export interface ComponentConfig {
  /** The shared secret of the handshake (XEP-0114 §3). */
  secret: string;
}

export type AclSpec = Record<string, string[]>; // kind (user, server, ip, user_regexp, resource) -> values
export type AccessRule = Array<{ action: string; acl: string }>;

export interface ServerConfig {
  /** Absolute path of the YAML file this came from ('' for an in-memory config). */
  path: string;
  hosts: string[];
  data_dir: string;
  /** When writes are fsynced: none (process crash safe), batch or group (power loss safe too). */
  durability: DurabilityConfig;
  /** N nodes on NATS JetStream (cluster-config.ts); null: a single node. */
  cluster: ClusterConfig | null;
  /** Node processes on this machine sharing the listening ports (workers.ts); more than 1 needs `cluster`. */
  workers: number;
  log_level: LogLevel;
  control_socket: string;
  listen: ListenerConfig[];
  tls?: TlsSettings;
  host_config: Record<string, HostConfig>;
  max_stanza_size: number;
  /** Element nesting inside one stanza; deeper ends the stream with policy-violation. */
  max_xml_depth: number;
  /** Attributes (namespace declarations included) on one element. */
  max_xml_attributes: number;
  /** Characters of one element or attribute name. */
  max_xml_name_length: number;
  /** Seconds without any byte from a client before connection-timeout (RFC 6120 §4.9.3.4). */
  c2s_idle_timeout: number;
  /** Seconds a client may take to authenticate and bind. */
  c2s_negotiation_timeout: number;
  /** Failed SASL attempts allowed on one connection before it is closed (RFC 6120 §6.4.5). */
  sasl_max_failures: number;
  /** SCRAM -PLUS and the channel-binding types c2s offers (channel-binding-config.ts). */
  channel_binding: ChannelBindingConfig;
  /** SASL2 (XEP-0388) with Bind2 (XEP-0386) and FAST tokens (XEP-0484) on c2s (sasl2-config.ts). */
  sasl2: Sasl2Config;
  /** Bytes queued towards a client that does not read before its session is dropped. */
  max_send_queue: number;
  /** PBKDF2 iterations for newly stored SCRAM credentials. */
  scram_iterations: number;
  module_paths: string[];
  /** Bearer tokens accepted by the HTTP admin API ('sha256:<hex>' or the token); none = API disabled. */
  api_tokens: string[];
  modules: Record<string, Record<string, unknown>>;
  s2s: S2sConfig;
  /** XEP-0114 external components by domain (served on `component` listeners). */
  components: Record<string, ComponentConfig>;
  /** The default auth provider; host_config.<host>.auth overrides it per host. */
  auth: AuthConfig;
  acl: Record<string, AclSpec>;
  access_rules: Record<string, AccessRule>;
  limits: LimitsConfig;
  /** The only directory REST and ad-hoc admin commands read and write files in (the CLI names any path). */
  admin_files_dir: string;
  import_limits: ImportLimits;
  /** Seconds between checks whether glibc should hand freed memory back (malloc_trim); 0 = off. */
  memory_trim_interval: number;
}

/** Bounds of an import file (XEP-0227 import): bytes in all (after gunzip), per <user>, per text node or tag; nesting. */
export interface ImportLimits { max_bytes: number; max_user_bytes: number; max_text_bytes: number; max_depth: number }
