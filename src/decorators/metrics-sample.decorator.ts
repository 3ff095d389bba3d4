import { SetMetadata } from '@nestjs/common';
import { METRICS_SAMPLE_KEY } from '../metrics.constants';

/**
 * Records this share (0 to 1) of the exchanges of this controller or handler, instead of the module's `sampleRate`:
 * `@MetricsSample(0.1)` records one in ten, drawn at random per request. Responses with a 5xx status are always
 * recorded. Precedence: handler, then controller, then the module option.
 */
export const MetricsSample = (rate: number): ClassDecorator & MethodDecorator => {
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0 || rate > 1) {
    throw new TypeError(`nestjs-api-metrics: @MetricsSample() needs a number from 0 to 1, got ${String(rate)}`);
  }
  return SetMetadata(METRICS_SAMPLE_KEY, rate);
};
