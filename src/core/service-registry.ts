// Typed services that modules offer each other per host (e.g. the roster module's lookups used by
// presence, last activity and blocking), so modules never import each other's code.
export class ServiceRegistry {
  private readonly services = new Map<string, unknown>();

  provide(host: string, name: string, impl: unknown): () => void {
    const k = `${host}\u0000${name}`;
    if (this.services.has(k)) throw new Error(`service ${name} is already provided on ${host}`);
    this.services.set(k, impl);
    return () => {
      if (this.services.get(k) === impl) this.services.delete(k);
    };
  }

  get<T>(host: string, name: string): T | undefined {
    return this.services.get(`${host}\u0000${name}`) as T | undefined;
  }

  size(): number {
    return this.services.size;
  }
}
