import { SetMetadata } from '@nestjs/common';
import type { MetricsGroupFn } from '../interfaces/metrics-group.interface';
import { METRICS_GROUP_KEY } from '../metrics.constants';

/**
 * Tells who made the requests of this controller or handler, instead of the module's `group` option.
 * Precedence: handler, then controller, then the module option.
 */
export const MetricsGroup = (group: MetricsGroupFn): ClassDecorator & MethodDecorator => {
  if (typeof group !== 'function') {
    throw new TypeError('nestjs-api-metrics: @MetricsGroup() needs a function (req) => ({ apiKey, label?, email? })');
  }
  return SetMetadata(METRICS_GROUP_KEY, group);
};
