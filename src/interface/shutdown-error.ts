// The stream error a client stream gets when the node stops (SIGTERM drain): see-other-host with the address of
// cluster.see_other_host, so the client reconnects to another node at once (RFC 6120 §4.9.3.19), else system-shutdown.
// WebSocket and BOSH clients always get system-shutdown: their see-other-host would need a URL (RFC 7395 §3.6.1).
import { StreamError } from '../core/errors.js';
import type { ServerConfig } from '../core/config/types.js';

export function shutdownError(config: ServerConfig, listenerType: string): StreamError {
  const other = config.cluster?.see_other_host;
  if (other && (listenerType === 'c2s' || listenerType === 'c2s_tls')) {
    return new StreamError('see-other-host', 'this node is shutting down: reconnect to the address given', other);
  }
  return new StreamError('system-shutdown', 'the server is shutting down');
}
