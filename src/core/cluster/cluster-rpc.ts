// Requests between modules on different cluster nodes (DESIGN.md "Data layer": core NATS request/reply on the
// per-node subject), per host and name: e.g. XEP-0198 asks the node holding a detached session to hand it over.
export type ClusterHandler = (payload: unknown, from: string) => unknown | Promise<unknown>;

export interface ClusterRpc {
  /** Answer requests `name` for `host` on this node; the returned function withdraws the handler. */
  serve(host: string, name: string, handler: ClusterHandler): () => void;
  /** Ask node `node`; rejects when it is gone (no responders, timeout) or has no handler, or the handler threw. */
  request(node: string, host: string, name: string, payload: unknown): Promise<unknown>;
}
