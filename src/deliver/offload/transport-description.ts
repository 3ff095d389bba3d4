import type { AnyMetricsTransport } from '../../interfaces/metrics-transport.interface';
import { MetricsOptionsError } from '../../option-checks';
import { ApitoolkitTransport, type ApitoolkitTransportOptions } from '../transports/apitoolkit.transport';
import { HarFileTransport, type HarFileTransportOptions } from '../transports/har-file.transport';
import { OtlpTransport, type OtlpTransportOptions } from '../transports/otlp.transport';
import type { ResolvedMetricsOptions } from '../../metrics.options';
import { ReadmeTransport, readmeTransportOptions, type ReadmeTransportOptions } from '../transports/readme.transport';
import { originOf, type TransportKind, type TransportOrigin } from '../transports/transport-origin';

const CLASSES: Record<TransportKind, { prototype: object; name: string }> = {
  readme: ReadmeTransport,
  'har-file': HarFileTransport,
  otlp: OtlpTransport,
  apitoolkit: ApitoolkitTransport,
};

/**
 * How the worker builds the same transport: its kind and constructor options (undefined: the ReadMe transport the
 * options describe). Only the built-in classes
 * themselves qualify: a custom transport, or a subclass (whose overrides would be lost), cannot run in the worker,
 * and the app is stopped at startup rather than shipping through something else than what it configured.
 */
export function describeTransport(
  transport: AnyMetricsTransport | undefined,
  options: ResolvedMetricsOptions,
): TransportOrigin {
  // No `transport` option: the worker builds the ReadMe transport from the options; none exists on the main thread.
  if (transport === undefined) return { kind: 'readme', options: readmeTransportOptions(options) };
  const origin = originOf(transport);
  const proto: unknown = Object.getPrototypeOf(transport);
  if (!origin || proto !== CLASSES[origin.kind].prototype) {
    const name = (proto as { constructor?: { name?: string } } | null)?.constructor?.name;
    const what = name && name !== 'Object' ? `an instance of ${name}` : 'a custom object';
    throw new MetricsOptionsError(
      `"transport" is ${what}, which offload: 'worker' cannot run: the worker thread rebuilds the transport from ` +
        'its options, and methods (functions) cannot cross threads. Use a built-in transport (ReadMe via apiKey, ' +
        'HarFileTransport, OtlpTransport, ApitoolkitTransport, not subclassed) or offload: false.',
    );
  }
  try {
    structuredClone(origin.options);
  } catch (error) {
    throw new MetricsOptionsError(
      `"transport": the options of ${CLASSES[origin.kind].name} cannot be copied to the offload worker thread ` +
        `(${(error as Error)?.message}); give it plain values (strings, numbers, objects), or use offload: false.`,
    );
  }
  return origin;
}

/** In the worker: the transport the description names. */
export function buildTransport(origin: TransportOrigin): AnyMetricsTransport {
  switch (origin.kind) {
    case 'readme':
      return new ReadmeTransport(origin.options as ReadmeTransportOptions);
    case 'har-file':
      return new HarFileTransport(origin.options as HarFileTransportOptions);
    case 'otlp':
      return new OtlpTransport(origin.options as OtlpTransportOptions);
    case 'apitoolkit':
      return new ApitoolkitTransport(origin.options as ApitoolkitTransportOptions);
  }
}
