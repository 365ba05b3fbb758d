// Sessions and routing across cluster nodes (DESIGN.md "Data layer"): node liveness, the session registry
// and the per-node subject, wired together. A dead node's sessions are purged by one live node (the
// lowest-named) through the same end-of-session path as a local close (user_unavailable, session_closed):
// its users' contacts see them go unavailable, and messages to them go to offline storage.
import type { Element } from '@xmpp/xml';
import { Jid } from '../jid.js';
import type { Core } from '../core.js';
import type { Logger } from '../log.js';
import type { ClusterRuntime } from './cluster-runtime.js';
import { NodeLiveness } from './node-liveness.js';
import { NodeLink } from './node-link.js';
import { SessionRegistry, type Mirrored } from './session-registry.js';
import type { RemoteSession } from './remote-session.js';

const NS_CARBONS = 'urn:xmpp:carbons:2';

export class ClusterSessions {
  readonly liveness: NodeLiveness;
  readonly link: NodeLink;
  readonly registry: SessionRegistry;
  private timer: NodeJS.Timeout | null = null;
  private sweeping = false;
  private readonly log: Logger;

  constructor(private readonly core: Core, private readonly cluster: ClusterRuntime) {
    this.log = core.log.child({ part: 'cluster-sessions' });
    this.liveness = new NodeLiveness(cluster, this.log);
    this.link = new NodeLink(core, cluster);
    this.registry = new SessionRegistry(core, cluster, this.liveness, this.link);
    this.liveness.onChange = (node, reachable) => {
      this.registry.nodeChanged(node, reachable);
      if (!reachable) void this.sweep();
    };
    this.link.onGone = (s, el, unreachable) => this.gone(s, el, unreachable);
    this.liveness.onBeat = () => this.registry.beat();
    this.liveness.onCheck = (staleMs) => this.registry.checkWatch(staleMs);
    this.link.mayWait = (node) => this.liveness.nodes.get(node)?.alive === true;
    this.link.batches = (node) => this.liveness.nodes.get(node)?.batches !== false;
  }

  async start(): Promise<void> {
    await this.liveness.start();
    this.link.start();
    this.cluster.rpc = this.link;
    await this.registry.start();
    this.timer = setInterval(() => void this.sweep(), this.cluster.config.heartbeat_interval * 1000);
    this.timer.unref();
  }

  /** A stanza for a remote session did not reach it: take the path of a session that is gone. */
  private gone(s: RemoteSession, el: Element | null, unreachable: boolean): void {
    if (unreachable) this.liveness.markUnreachable(s.remote);
    else if (this.core.sessions.get(s.jid) === s) this.core.sessions.remove(s); // its node closed it just now
    if (el) this.redeliver(el);
  }

  /**
   * Messages and IQ requests are routed again (RFC 6121 §8.5.3.2: another resource, offline storage, or an
   * error); presence is state and not resent; carbon copies are not: the original went elsewhere.
   */
  private redeliver(el: Element): void {
    const type = el.attrs.type;
    if (el.name === 'presence' || (el.name === 'iq' && type !== 'get' && type !== 'set')) return;
    if (el.name === 'message' && (el.getChild('sent', NS_CARBONS) || el.getChild('received', NS_CARBONS))) return;
    const from = Jid.tryParse(el.attrs.from);
    const to = Jid.tryParse(el.attrs.to);
    if (!from || !to || !this.core.router.isLocal(to.domain)) return;
    void this.core.router.redeliver(el, from, to);
  }

  /**
   * The lowest-named live node purges the sessions of dead nodes (and of earlier boots of restarted ones),
   * then forgets the dead nodes. Others only drop them from their mirror when the entries go.
   */
  private async sweep(): Promise<void> {
    if (this.sweeping || !this.liveness.settled() || this.liveness.leader() !== this.cluster.node) return;
    this.sweeping = true;
    try {
      const owners = new Set<string>();
      for (const [key, m] of [...this.registry.mirror]) {
        if (this.registry.isStale(m)) await this.purge(key, m);
        else owners.add(m.e.n);
      }
      for (const [name, n] of [...this.liveness.nodes]) {
        if (!n.alive && !owners.has(name)) {
          await this.registry.forgetNode(name);
          await this.liveness.forget(name);
        }
      }
    } catch (err) {
      this.log.error('purging dead nodes failed', { err });
    } finally {
      this.sweeping = false;
    }
  }

  /** The end of a session whose node is gone: as a local close runs it (c2s leaveSessions). */
  private async purge(key: string, m: Mirrored): Promise<void> {
    const s = m.s;
    const reason = `cluster node ${s.remote} is gone`;
    this.log.info('purging session of a gone node', { jid: s.jid.toString(), node: s.remote });
    await this.registry.forget(key, m);
    if (!this.core.router.isLocal(s.host)) return;
    if (s.presence !== null) await this.core.hooks.notify('user_unavailable', s.host, { session: s, stanza: null, reason });
    s.presence = null;
    await this.core.hooks.notify('session_closed', s.host, { session: s, reason });
  }

  /** `graceful`: this node's sessions were closed and their entries deleted; it leaves the nodes bucket. */
  async stop(graceful: boolean): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.registry.stop(graceful);
    this.link.stop();
    this.cluster.rpc = undefined;
    await this.liveness.stop(graceful);
  }
}
