import type { Reflector } from '@nestjs/core';
import type { MetricsCaptureOptions } from '../decorators/metrics-capture.decorator';
import type { MetricsGroupFn } from '../interfaces/metrics-group.interface';
import type { MetricsExcludeRule } from '../interfaces/metrics-options.interface';
import { METRICS_CAPTURE_KEY, METRICS_GROUP_KEY, METRICS_SAMPLE_KEY, SKIP_METRICS_KEY } from '../metrics.constants';
import type { ResolvedMetricsOptions } from '../metrics.options';

/** What the decorators and the module options say about one handler; computed once per handler. */
export interface RouteRules {
  skip: boolean;
  group?: MetricsGroupFn;
  /** Share of exchanges recorded, 0 to 1; 5xx responses are always recorded. */
  sampleRate: number;
  captureRequestBody: boolean;
  captureResponseBody: boolean;
}

type Target = object;

/** The rules of exchanges no handler was found for (404s, requests rejected before routing). */
export function defaultRouteRules(options: ResolvedMetricsOptions): RouteRules {
  return {
    skip: false,
    sampleRate: options.sampleRate,
    captureRequestBody: options.captureRequestBody,
    captureResponseBody: options.captureResponseBody,
  };
}

/**
 * Reads the decorators of a handler and its controller (`targets`: handler first). Precedence: handler, then
 * controller, then the module option; `@MetricsCapture()` merges per field.
 */
export function readRouteRules(reflector: Reflector, targets: Target[], options: ResolvedMetricsOptions): RouteRules {
  const defined = targets as Parameters<Reflector['getAllAndOverride']>[1];
  const capture: MetricsCaptureOptions = Object.assign(
    {},
    ...[...defined].reverse().map((t) => reflector.get<MetricsCaptureOptions | undefined>(METRICS_CAPTURE_KEY, t)),
  ) as MetricsCaptureOptions;
  return {
    skip: reflector.getAllAndOverride<boolean>(SKIP_METRICS_KEY, defined) === true,
    group: reflector.getAllAndOverride<MetricsGroupFn>(METRICS_GROUP_KEY, defined),
    sampleRate: reflector.getAllAndOverride<number | undefined>(METRICS_SAMPLE_KEY, defined) ?? options.sampleRate,
    captureRequestBody: capture.requestBody ?? options.captureRequestBody,
    captureResponseBody: capture.responseBody ?? options.captureResponseBody,
  };
}

/** The sampling draw for one exchange: true to record it (no draw at all at a rate of 1 or 0). */
export function drawSample(rules: RouteRules): boolean {
  return rules.sampleRate >= 1 || (rules.sampleRate > 0 && Math.random() < rules.sampleRate);
}
interface CompiledExclude {
  regex: RegExp;
  methods?: ReadonlySet<string>;
}

/** `/internal/*` → /^\/internal\/.*$/: `*` is any run of characters, `/` included; a trailing `/` is ignored. */
function compilePattern(path: string): RegExp {
  const trimmed = path.length > 1 ? path.replace(/\/+$/, '') : path;
  const source = trimmed
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}/?$`);
}

/**
 * The `exclude` option, compiled once at startup. A matched route's verdict is kept per method and template (as
 * many as the app has routes); a path no route matched is tested each time (a few regex tests).
 */
export class ExcludeRules {
  private readonly rules: CompiledExclude[];
  private readonly verdicts = new Map<string, boolean>();

  constructor(rules: readonly MetricsExcludeRule[]) {
    this.rules = rules.map((rule) => {
      const { path, method } = typeof rule === 'string' ? { path: rule, method: undefined } : rule;
      const methods = method === undefined ? undefined : Array.isArray(method) ? method : [method];
      return { regex: compilePattern(path), methods: methods && new Set(methods.map((m) => m.toUpperCase())) };
    });
  }

  get empty(): boolean {
    return this.rules.length === 0;
  }

  /** `template`: the route template (global prefix and version included) when a route matched; `url` otherwise. */
  isExcluded(method: string | undefined, template: string | undefined, url: string): boolean {
    if (!this.rules.length) return false;
    const m = (method ?? 'GET').toUpperCase();
    if (template !== undefined) {
      const key = `${m} ${template}`;
      let verdict = this.verdicts.get(key);
      if (verdict === undefined) {
        verdict = this.test(m, template);
        this.verdicts.set(key, verdict);
      }
      return verdict;
    }
    const q = url.search(/[?#]/);
    return this.test(m, q === -1 ? url : url.slice(0, q));
  }

  private test(method: string, path: string): boolean {
    return this.rules.some((r) => (!r.methods || r.methods.has(method) || r.methods.has('ALL')) && r.regex.test(path));
  }
}
