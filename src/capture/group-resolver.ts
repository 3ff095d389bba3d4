import type { MetricsGroupFn, MetricsGroupInfo } from '../interfaces/metrics-group.interface';
import type { MetricsLogger } from '../metrics.logger';
import type { SkipLog } from './skip-log';

/** The group of an exchange when no group function is set (and of outgoing calls until their request's is known). */
export const ANONYMOUS: MetricsGroupInfo = { apiKey: 'anonymous', label: 'Anonymous' };

export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}

/**
 * Who called: runs the group function (the handler's `@MetricsGroup()`, else the `group` option) on the platform's
 * request and checks what it returned. A function that throws or returns no usable `apiKey` skips the exchange, and
 * says why (once per kind); the caller bounds an async answer by `timeout`.
 */
export class GroupResolver {
  constructor(
    private readonly fallback: MetricsGroupFn | undefined,
    private readonly logger: MetricsLogger,
    private readonly skipLog: SkipLog,
  ) {}

  /** The group, its promise when the function is async; undefined: not recorded. */
  resolve(
    decorated: MetricsGroupFn | undefined,
    platformRequest: unknown,
  ): MetricsGroupInfo | undefined | PromiseLike<MetricsGroupInfo | undefined> {
    const fn = decorated ?? this.fallback;
    if (!fn) return ANONYMOUS;
    let result: unknown;
    try {
      result = fn(platformRequest);
    } catch (error) {
      this.logger.errorOnce('group', 'The group function threw; the exchange was not recorded', error);
      return undefined;
    }
    return isPromiseLike(result) ? Promise.resolve(result).then((r) => this.check(r)) : this.check(result);
  }

  private check(result: unknown): MetricsGroupInfo | undefined {
    if (result === null || result === undefined) return undefined;
    const info = result as Partial<MetricsGroupInfo>;
    if (typeof info !== 'object' || (typeof info.apiKey !== 'string' && typeof info.apiKey !== 'number')) {
      this.skipLog.note(
        typeof info === 'object' && info.apiKey === undefined
          ? 'the group function returned no apiKey (return { apiKey, label?, email? }, or null to skip on purpose)'
          : `the group function returned ${typeof info === 'object' ? 'an apiKey that is not a string' : `a ${typeof info}`} (expected { apiKey, label?, email? } or null)`,
      );
      return undefined;
    }
    return {
      apiKey: String(info.apiKey),
      label: info.label === undefined ? undefined : String(info.label),
      email: info.email === undefined ? undefined : String(info.email),
    };
  }
}
