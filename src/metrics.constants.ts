/** Package identity, carried in every record's HAR `creator`. Kept in sync with package.json by a unit test. */
export const PACKAGE_NAME = 'nestjs-api-metrics';
export const PACKAGE_VERSION = '0.1.0';

/** Metadata keys are namespaced so they never collide with the app's or another library's. */
export const SKIP_METRICS_KEY = 'nestjs-api-metrics:skip';
export const METRICS_GROUP_KEY = 'nestjs-api-metrics:group';

/** Injection token of the resolved (validated, defaulted) options. */
export const METRICS_RESOLVED_OPTIONS = 'nestjs-api-metrics:resolved-options';
/** Injection token of the transport records are delivered through. */
export const METRICS_TRANSPORT = 'nestjs-api-metrics:transport';

export const DEFAULT_BASE_URL = 'https://metrics.readme.io';
export const REDACTED = '[REDACTED]';
export const METRICS_SAMPLE_KEY = 'nestjs-api-metrics:sample';
export const METRICS_CAPTURE_KEY = 'nestjs-api-metrics:capture';
