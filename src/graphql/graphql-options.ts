import type { MetricsGraphqlOptions } from '../interfaces/metrics-graphql-options.interface';
import { describeValue, MetricsOptionsError } from '../option-checks';

/** The `graphql` option with its defaults; false: GraphQL requests are recorded as plain HTTP exchanges. */
export type ResolvedGraphqlOptions = false | { paths: ReadonlySet<string>; introspection: boolean };

export function resolveGraphqlOptions(value: unknown): ResolvedGraphqlOptions {
  if (value === false) return false;
  if (value === undefined || value === true) return { paths: new Set(['/graphql']), introspection: false };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new MetricsOptionsError(
      `"graphql" must be false or { paths?, introspection? }, got ${describeValue(value)}.`,
    );
  }
  const { paths, introspection, ...rest } = value as MetricsGraphqlOptions;
  const extra = Object.keys(rest)[0];
  if (extra !== undefined) throw new MetricsOptionsError(`"graphql" has an unknown key "${extra}".`);
  if (
    paths !== undefined &&
    (!Array.isArray(paths) || paths.some((p) => typeof p !== 'string' || !p.startsWith('/')))
  ) {
    throw new MetricsOptionsError(
      `"graphql.paths" must be an array of paths starting with "/", got ${describeValue(paths)}.`,
    );
  }
  if (introspection !== undefined && typeof introspection !== 'boolean') {
    throw new MetricsOptionsError(`"graphql.introspection" must be a boolean, got ${describeValue(introspection)}.`);
  }
  return { paths: new Set(paths ?? ['/graphql']), introspection: introspection ?? false };
}
