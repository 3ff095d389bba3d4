import type { SpanBuilderOptions } from '../../format/otlp/span-builder';
import { PACKAGE_NAME } from '../../metrics.constants';
import { buildResource, maxExportBytes, type OtlpProtocol, type OtlpTransportOptions } from './otlp-config';
import { OtlpTransport } from './otlp.transport';
import { rememberOrigin } from './transport-origin';

/** APIToolkit's (Monoscope's) OTLP collector, as its SDKs' READMEs configure it (gRPC). */
export const APITOOLKIT_DEFAULT_URL = 'http://otelcol.apitoolkit.io:4317';

export interface ApitoolkitTransportOptions {
  /** Your APIToolkit project API key; sent as the resource attribute `at-project-key`, as APIToolkit's SDKs do. */
  apiKey: string;
  /** Default `http://otelcol.apitoolkit.io:4317` (gRPC). A self-hosted Monoscope: `http://monoscope:4317`. */
  url?: string;
  /** Default `grpc`, what APIToolkit's collector speaks. */
  protocol?: OtlpProtocol;
  /** `service.name` of the resource (APIToolkit's `serviceName`). Default `OTEL_SERVICE_NAME`, else `unknown_service:node`. */
  serviceName?: string;
  /** ms per export call. Default 10000. */
  timeout?: number;
  /** More resource attributes. */
  resourceAttributes?: OtlpTransportOptions['resourceAttributes'];
  /** Largest export in bytes; a bigger batch is split. Default 4194304 (gRPC's default message limit). */
  maxExportBytes?: number;
}

/**
 * Ships redacted exchanges to APIToolkit (now also branded Monoscope) as the spans its own SDKs write: span
 * `monoscope.http`, the `apitoolkit.*` attributes, bodies as base64, resource attribute `at-project-key`. The
 * standard OTEL_EXPORTER_OTLP_* variables are deliberately not read (they point at the app's own collector and
 * may carry its credentials), only OTEL_SERVICE_NAME.
 */
export class ApitoolkitTransport extends OtlpTransport {
  constructor(options: ApitoolkitTransportOptions) {
    if (!options || typeof options.apiKey !== 'string' || options.apiKey.trim() === '') {
      throw new Error(
        `${PACKAGE_NAME}: ApitoolkitTransport needs { apiKey }, your APIToolkit project API key (e.g. apiKey: process.env.APITOOLKIT_KEY).`,
      );
    }
    super({ ...options, protocol: options.protocol ?? 'grpc', url: options.url ?? APITOOLKIT_DEFAULT_URL });
    rememberOrigin(this, 'apitoolkit', options);
  }

  protected override mode(): SpanBuilderOptions['mode'] {
    return 'apitoolkit';
  }

  protected override resolve(options: OtlpTransportOptions & { apiKey?: string }) {
    const protocol = options.protocol ?? 'grpc';
    const url = options.url ?? APITOOLKIT_DEFAULT_URL;
    if (!/^https?:\/\/[^/]+/i.test(url)) {
      throw new Error(`${PACKAGE_NAME}: ApitoolkitTransport url must be an http(s) URL, got ${JSON.stringify(url)}.`);
    }
    const timeout = options.timeout ?? 10_000;
    const serviceName = options.serviceName ?? process.env.OTEL_SERVICE_NAME?.trim();
    const resource = buildResource(
      {
        ...options,
        ...(serviceName && { serviceName }),
        resourceAttributes: { ...options.resourceAttributes, 'at-project-key': options.apiKey ?? '' },
      },
      false,
    );
    return { url, protocol, headers: {}, timeout, resource, maxExportBytes: maxExportBytes(options.maxExportBytes) };
  }
}
