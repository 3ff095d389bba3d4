import type { MetricsModuleOptions } from './interfaces/metrics-options.interface';

/*
 * What every options file validates with (metrics.options.ts, traffic/traffic-options.ts, graphql/graphql-options.ts):
 * the error, and the checks shared by them. A file of its own, so the feature folders' option resolvers need not import
 * metrics.options.ts, which imports them.
 */

/** Thrown at startup for options that cannot work; the message says which option and what to do. */
export class MetricsOptionsError extends Error {
  constructor(message: string) {
    super(`nestjs-api-metrics: ${message}`);
    this.name = 'MetricsOptionsError';
  }
}

export function positiveInt(options: MetricsModuleOptions, key: keyof MetricsModuleOptions, fallback: number): number {
  const value = options[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new MetricsOptionsError(`"${key}" must be a positive whole number, got ${describeValue(value)}.`);
  }
  return value;
}

export function bool(options: MetricsModuleOptions, key: keyof MetricsModuleOptions, fallback: boolean): boolean {
  const value = options[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean')
    throw new MetricsOptionsError(`"${key}" must be true or false, got ${describeValue(value)}.`);
  return value;
}

/** A value as a message shows it: its type named and strings quoted (`the string "500"`), so "500" is not read as 500. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return `the ${typeof value} ${String(value)}`;
  }
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return `an array (${value.length} items)`;
  return 'an object';
}
