import { SetMetadata } from '@nestjs/common';
import { METRICS_CAPTURE_KEY } from '../metrics.constants';

/** What `@MetricsCapture()` says; an omitted field keeps the controller's or the module's setting. */
export interface MetricsCaptureOptions {
  /** false: the request body is not recorded (routes that carry files, PII or huge payloads). */
  requestBody?: boolean;
  /** false: the response body is not recorded. */
  responseBody?: boolean;
}

/**
 * Which bodies of this controller's or handler's exchanges are recorded, instead of the module's
 * `captureRequestBody` / `captureResponseBody`: `@MetricsCapture({ requestBody: false })`. Headers, status and timing
 * are still recorded. Precedence, per field: handler, then controller, then the module option.
 */
export const MetricsCapture = (options: MetricsCaptureOptions): ClassDecorator & MethodDecorator => {
  const valid =
    options !== null &&
    typeof options === 'object' &&
    Object.entries(options).every(
      ([key, value]) => (key === 'requestBody' || key === 'responseBody') && typeof value === 'boolean',
    );
  if (!valid) {
    throw new TypeError(
      'nestjs-api-metrics: @MetricsCapture() needs { requestBody?: boolean, responseBody?: boolean }',
    );
  }
  return SetMetadata(METRICS_CAPTURE_KEY, { ...options });
};
