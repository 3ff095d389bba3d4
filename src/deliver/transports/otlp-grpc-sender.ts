import { PACKAGE_NAME, PACKAGE_VERSION } from '../../metrics.constants';
import { MetricsDeliveryError } from '../delivery-error';
import { loadPeer } from './otlp-peers';

const GRPC = '@grpc/grpc-js';
const GRPC_METHOD = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

interface GrpcClient {
  makeUnaryRequest(
    method: string,
    serialize: (value: Buffer) => Buffer,
    deserialize: (value: Buffer) => Buffer,
    argument: Buffer,
    metadata: unknown,
    options: { deadline: number },
    callback: (error: (Error & { code?: number; details?: string }) | null) => void,
  ): unknown;
  close(): void;
}

interface GrpcModule {
  Client: new (address: string, credentials: unknown, options: Record<string, unknown>) => GrpcClient;
  credentials: { createInsecure(): unknown; createSsl(): unknown };
  Metadata: new () => { set(key: string, value: string): void };
}

/**
 * OTLP over gRPC: one unary Export call per batch through @grpc/grpc-js (loaded when constructed), bounded by a
 * deadline; a failure is a MetricsDeliveryError with the HTTP status the gRPC code maps to, so the dispatcher decides
 * as for HTTP.
 */
export class GrpcSender {
  private readonly module: GrpcModule;
  private client?: GrpcClient;

  constructor(
    private readonly url: string,
    private readonly headers: Record<string, string>,
    private readonly timeout: number,
  ) {
    this.module = loadPeer<GrpcModule>(
      GRPC,
      require,
      'OtlpTransport with protocol "grpc" needs @grpc/grpc-js',
      'npm i @grpc/grpc-js',
    );
  }

  send(body: Buffer): Promise<void> {
    const { module } = this;
    if (!this.client) {
      const url = new URL(this.url);
      const tls = url.protocol === 'https:';
      const address = `${url.hostname}:${url.port || (tls ? 443 : 80)}`;
      this.client = new module.Client(
        address,
        tls ? module.credentials.createSsl() : module.credentials.createInsecure(),
        {
          'grpc.primary_user_agent': `${PACKAGE_NAME}/${PACKAGE_VERSION}`,
        },
      );
    }
    const metadata = new module.Metadata();
    for (const [key, value] of Object.entries(this.headers)) metadata.set(key.toLowerCase(), value);
    const client = this.client;
    return new Promise((resolve, reject) => {
      client.makeUnaryRequest(
        GRPC_METHOD,
        (value: Buffer) => value,
        (value: Buffer) => value,
        body,
        metadata,
        { deadline: Date.now() + this.timeout },
        (error: (Error & { code?: number; details?: string }) | null) => {
          if (!error) return resolve();
          const status = GRPC_TO_HTTP[error.code ?? -1] ?? 422;
          reject(
            new MetricsDeliveryError(
              `OTLP collector answered gRPC ${GRPC_NAMES[error.code ?? -1] ?? error.code}: ${error.details ?? error.message}`,
              status === 0 ? undefined : status,
            ),
          );
        },
      );
    });
  }
  close(): void {
    this.client?.close();
    this.client = undefined;
  }
}

const GRPC_TO_HTTP: Record<number, number> = {
  1: 0,
  3: 400,
  4: 0,
  5: 404,
  7: 403,
  8: 429,
  10: 503,
  11: 503,
  12: 404,
  13: 422,
  14: 503,
  15: 503,
  16: 401,
};
const GRPC_NAMES: Record<number, string> = {
  1: 'CANCELLED',
  2: 'UNKNOWN',
  3: 'INVALID_ARGUMENT',
  4: 'DEADLINE_EXCEEDED',
  5: 'NOT_FOUND',
  7: 'PERMISSION_DENIED',
  8: 'RESOURCE_EXHAUSTED',
  10: 'ABORTED',
  11: 'OUT_OF_RANGE',
  12: 'UNIMPLEMENTED',
  13: 'INTERNAL',
  14: 'UNAVAILABLE',
  15: 'DATA_LOSS',
  16: 'UNAUTHENTICATED',
};
