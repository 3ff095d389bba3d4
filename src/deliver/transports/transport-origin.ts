/**
 * The options each built-in transport was constructed with, kept so that `offload: 'worker'` can build the same
 * transport again in its worker thread (an object with methods cannot cross threads; its options can). A WeakMap:
 * nothing is added to the instances, and a transport the app drops is not kept alive.
 */
export type TransportKind = 'readme' | 'har-file' | 'otlp' | 'apitoolkit';

export interface TransportOrigin {
  kind: TransportKind;
  /** A shallow copy of what the constructor was given. */
  options: object;
}

const origins = new WeakMap<object, TransportOrigin>();

/** Called by each built-in transport's constructor; a subclass's call (later) wins over its parent's. */
export function rememberOrigin(transport: object, kind: TransportKind, options: object | undefined): void {
  origins.set(transport, { kind, options: { ...options } });
}

export function originOf(transport: object): TransportOrigin | undefined {
  return origins.get(transport);
}
