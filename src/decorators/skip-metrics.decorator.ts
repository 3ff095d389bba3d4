import { SetMetadata } from '@nestjs/common';
import { SKIP_METRICS_KEY } from '../metrics.constants';

/**
 * Never records exchanges of this controller or handler. A handler's `@SkipMetrics(false)` records it again inside
 * a skipped controller (the handler's setting wins).
 */
export const SkipMetrics = (skip = true): ClassDecorator & MethodDecorator => SetMetadata(SKIP_METRICS_KEY, skip);
