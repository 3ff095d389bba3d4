// Compiled by .ci/test-types.sh against the packed tarball: the published declarations must read in every
// TypeScript and NestJS combination the README lists. Uses the public API only (no deep imports).
import { Controller, Get, Module } from '@nestjs/common';
import {
  HarFileTransport,
  MetricsCapture,
  MetricsModule,
  MetricsSample,
  MetricsService,
  SkipMetrics,
  type MetricsModuleOptions,
  type MetricsRecord,
  type MetricsStats,
  type TrafficSnapshot,
} from 'nestjs-api-metrics';

const options: MetricsModuleOptions = {
  enabled: process.env.NODE_ENV === 'production',
  apiKey: process.env.README_API_KEY,
  exclude: ['/health', { path: '/internal/*', method: 'GET' }],
  sampleRate: 0.5,
  maxConsumers: 500,
  metricsInterval: 30_000,
  metricsTemporality: 'delta',
  prometheus: true,
  group: (req: { headers: Record<string, string | undefined> }) => ({
    apiKey: req.headers['x-api-key'] ?? 'anonymous',
  }),
};

@Controller('x')
@MetricsSample(0.1)
class XController {
  constructor(private readonly metrics: MetricsService) {}
  @Get()
  @MetricsCapture({ requestBody: false })
  @SkipMetrics(false)
  get(): MetricsStats {
    return this.metrics.stats();
  }
  @Get('traffic')
  traffic(): number {
    const snapshot: TrafficSnapshot = this.metrics.traffic();
    return snapshot.series.reduce((n, s) => n + s.duration.count, 0);
  }
}

@Module({
  imports: [
    MetricsModule.forRoot(options),
    MetricsModule.forRootAsync({ useFactory: () => ({ transport: new HarFileTransport({ path: './x.har' }) }) }),
  ],
  controllers: [XController],
})
export class AppModule {}
export type R = MetricsRecord;
