import { createRequire } from 'node:module';
import { PACKAGE_NAME } from '../../metrics.constants';

/*
 * The OpenTelemetry packages the OTLP transports load on demand (optional peers): a clear startup error naming the
 * install command when one is missing.
 */

export const TRANSFORMER = '@opentelemetry/otlp-transformer';
export const INSTALL = 'npm i @opentelemetry/otlp-transformer@^0.223.0 @opentelemetry/api@^1.9.0';

interface OtelContext {
  readonly __brand?: 'Context';
}

export interface OtelApi {
  context: { active(): OtelContext; with<T>(context: OtelContext, fn: () => T): T };
}

export interface OtelCore {
  suppressTracing(context: OtelContext): OtelContext;
}

/**
 * @opentelemetry/api and @opentelemetry/core as the transformer resolves them. Only the context API is used, never a
 * setter: with no context manager registered (an app without the SDK) `with` just calls the function.
 */
export function loadSuppression(): { api?: OtelApi; core?: OtelCore } {
  try {
    const from = createRequire(requireResolve(TRANSFORMER));
    return { api: from('@opentelemetry/api') as OtelApi, core: from('@opentelemetry/core') as OtelCore };
  } catch {
    return {};
  }
}

export function requireResolve(name: string): string {
  try {
    return require.resolve(name);
  } catch {
    throw missing(name, `OtlpTransport needs ${name}`, INSTALL);
  }
}

/** Loads an optional peer dependency; a clear startup error naming the install command when it is missing. */
export function loadPeer<T>(name: string, from: NodeJS.Require, what: string, install: string): T {
  try {
    return from(name) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') throw missing(name, what, install);
    throw error;
  }
}

function missing(name: string, what: string, install: string): Error {
  return new Error(`${PACKAGE_NAME}: ${what} (${name} could not be loaded). Run: ${install}`);
}
