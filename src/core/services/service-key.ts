// A typed name for a service modules offer each other (ctx.provide / ctx.service): the key carries the
// contract's type, so a lookup needs no cast and a provider that does not fulfil the contract fails to compile.

declare const contract: unique symbol;

export interface ServiceKey<T> {
  readonly name: string;
  /** Type only, never set: the contract the service fulfils. */
  readonly [contract]?: T;
}

/** A key for the service named `name` whose implementations fulfil T. */
export function serviceKey<T>(name: string): ServiceKey<T> {
  return Object.freeze({ name });
}
