// Readiness of a node for orchestrators (the HTTP listener's /readyz): every part that can make the node unfit
// for new clients (a cluster replica catching up, a drain in progress) registers a check here.

export interface ReadinessState { ready: boolean; /** Why not, for the operator (no secrets). */ reason?: string }

export class Readiness {
  private readonly checks = new Map<string, () => ReadinessState>();

  /** Add a named check; the returned function removes it. */
  add(name: string, check: () => ReadinessState): () => void {
    this.checks.set(name, check);
    return () => {
      if (this.checks.get(name) === check) this.checks.delete(name);
    };
  }

  /** Ready when every check is; the reasons of those that are not. */
  state(): { ready: boolean; reasons: Record<string, string> } {
    const reasons: Record<string, string> = {};
    for (const [name, check] of this.checks) {
      let s: ReadinessState;
      try {
        s = check();
      } catch (err) {
        s = { ready: false, reason: `check failed: ${(err as Error)?.message ?? err}` };
      }
      if (!s.ready) reasons[name] = s.reason ?? 'not ready';
    }
    return { ready: Object.keys(reasons).length === 0, reasons };
  }
}
