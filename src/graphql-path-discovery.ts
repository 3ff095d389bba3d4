import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { ApplicationConfig, ModuleRef } from '@nestjs/core';
import { ExchangeRecorder } from './capture/exchange-recorder';

/** `@nestjs/graphql`'s options token (GRAPHQL_MODULE_OPTIONS, the same in 13 and 14): read by name, not imported. */
const GQL_MODULE_OPTIONS = 'GqlModuleOptions';

/**
 * Finds where the app's GraphQL driver is served (its `path`, default `/graphql`, with the global prefix when
 * `useGlobalPrefix`), so requests on it are read as GraphQL even when no resolver runs for them (a syntax error still
 * carries its document, and its secrets). Without @nestjs/graphql in the app it does nothing.
 */
@Injectable()
export class GraphqlPathDiscovery implements OnApplicationBootstrap {
  constructor(
    private readonly moduleRef: ModuleRef,
    private readonly config: ApplicationConfig,
    private readonly recorder: ExchangeRecorder,
  ) {}

  onApplicationBootstrap(): void {
    let options: { path?: unknown; useGlobalPrefix?: unknown } | undefined;
    try {
      options = this.moduleRef.get(GQL_MODULE_OPTIONS, { strict: false });
    } catch {
      return; // no GraphQL module in this app
    }
    if (options === null || typeof options !== 'object') return;
    const path = normalize(typeof options.path === 'string' ? options.path : '/graphql');
    const prefix = options.useGlobalPrefix === true ? normalize(this.config.getGlobalPrefix() ?? '') : '';
    this.recorder.addGraphqlPath(prefix === '/' ? path : prefix + path);
  }
}

/** `api/` → `/api`, `` → `/` (as Nest normalizes route paths). */
function normalize(path: string): string {
  const trimmed = path.replace(/^\/+|\/+$/g, '');
  return `/${trimmed}`;
}
