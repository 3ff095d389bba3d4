import { HttpModule } from '@nestjs/axios';
import { Module } from '@nestjs/common';
import { PrometheusModule } from '@willsoto/nestjs-prometheus';
import { ApitoolkitTransport, HarFileTransport, MetricsModule, OtlpTransport } from '../src';
import { AppController } from './app.controller';
import { CarrierController } from './carrier.controller';
import { OrdersController } from './orders/orders.controller';
import { OWLBERT } from './owlbert';

export const HAR_FILE = './api-metrics.har';

@Module({
  imports: [
    MetricsModule.forRootAsync({
      useFactory: () => {
        const apiKey = process.env.README_API_KEY;
        const apitoolkitKey = process.env.APITOOLKIT_KEY;
        return {
          // With a ReadMe key, ship to ReadMe (or README_METRICS_SERVER); without one, write a local HAR file.
          ...(apiKey
            ? { apiKey, baseUrl: process.env.README_METRICS_SERVER || undefined }
            : { transport: new HarFileTransport({ path: HAR_FILE }) }),
          // With an APIToolkit key, ship to APIToolkit (APITOOLKIT_URL: another collector, e.g. self-hosted);
          // with OTEL_EXPORTER_OTLP_ENDPOINT, to that OpenTelemetry collector (OTEL_* variables as every exporter).
          ...(apitoolkitKey
            ? {
                transport: new ApitoolkitTransport({
                  apiKey: apitoolkitKey,
                  url: process.env.APITOOLKIT_URL || undefined,
                  serviceName: 'nestjs-api-metrics-sample',
                }),
              }
            : process.env.OTEL_EXPORTER_OTLP_ENDPOINT || process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
              ? { transport: new OtlpTransport() }
              : {}),
          group: () => OWLBERT,
          flushInterval: 1000,
          serviceVersion: '1.0.0',
          redactRequestBody: ['$.card.number'],
          debug: process.env.METRICS_DEBUG === 'true',
          // METRICS_ENABLED=false runs the sample without recording anything (as tests of your app would).
          enabled: process.env.METRICS_ENABLED !== 'false',
          // Browsers ask for it on every visit; a 404 nobody cares about. Matched on the path, as no route serves it.
          exclude: ['/favicon.ico', '/metrics'],
          // Exact traffic metrics (every request, per route, status and consumer) in the app's prom-client registry,
          // served by the app's own /metrics (PrometheusModule below). docs/grafana has a dashboard for them.
          prometheus: true,
          // A live page at http://localhost:3000/api-metrics (loopback clients only): docs/dashboard.md.
          dashboard: true,
        };
      },
    }),
    // The app's own HttpService: its calls are recorded (captureOutgoing, on by default).
    HttpModule,
    // The app's Prometheus endpoint, GET /metrics (@willsoto/nestjs-prometheus and prom-client).
    PrometheusModule.register(),
  ],
  controllers: [AppController, OrdersController, CarrierController],
})
export class AppModule {}
