import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { MetricsModuleOptions } from './interfaces/metrics-options.interface';

export const {
  ConfigurableModuleClass: ConfigurableMetricsModule,
  MODULE_OPTIONS_TOKEN: METRICS_MODULE_OPTIONS,
  OPTIONS_TYPE: METRICS_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: METRICS_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<MetricsModuleOptions>({ moduleName: 'Metrics' })
  .setClassMethodName('forRoot')
  // Always global: one import in the root module records the whole app.
  .setExtras({}, (definition) => ({ ...definition, global: true }))
  .build();
