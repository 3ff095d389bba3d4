import type {
  DynamicModule,
  InjectionToken,
  ModuleMetadata,
  OptionalFactoryDependency,
  Provider,
  Type,
} from '@nestjs/common';
import type { MetricsModuleOptions } from './interfaces/metrics-options.interface';
import { describeValue, MetricsOptionsError } from './option-checks';

/** Injection token of the options as given to `forRoot()` / returned by the `forRootAsync()` factory. */
export const METRICS_MODULE_OPTIONS = 'METRICS_MODULE_OPTIONS';
/** Present only when the module was configured (`forRoot`/`forRootAsync`): names the method, for error messages. */
export const METRICS_CONFIGURED_BY = 'nestjs-api-metrics:configured-by';

/** A class that makes the options, for `forRootAsync({ useClass })` / `useExisting` (Nest's naming convention). */
export interface MetricsOptionsFactory {
  createMetricsOptions(): MetricsModuleOptions | Promise<MetricsModuleOptions>;
}

/** The name the first versions used; still accepted. */
interface LegacyMetricsOptionsFactory {
  create(): MetricsModuleOptions | Promise<MetricsModuleOptions>;
}

/** `MetricsModule.forRootAsync()`: exactly one of `useFactory`, `useClass`, `useExisting`. */
export interface MetricsModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  /** Returns the options (or a promise of them); gets the `inject` providers as arguments. */
  useFactory?: (...args: never[]) => MetricsModuleOptions | Promise<MetricsModuleOptions>;
  inject?: (InjectionToken | OptionalFactoryDependency)[];
  /** Instantiated by the module; its `createMetricsOptions()` returns the options (`create()` is accepted too). */
  useClass?: Type<MetricsOptionsFactory | LegacyMetricsOptionsFactory>;
  /** An existing provider (from `imports`) with `createMetricsOptions()` (or `create()`). */
  useExisting?: InjectionToken;
  /** Extra providers of this module, e.g. what `useClass` injects. */
  extraProviders?: Provider[];
}

function checked(result: unknown, source: string): MetricsModuleOptions {
  if (result === null || typeof result !== 'object' || Array.isArray(result)) {
    throw new MetricsOptionsError(
      `MetricsModule.forRootAsync(): ${source} returned ${describeValue(result)}; it must return the options ` +
        'object, e.g. { apiKey, group }.',
    );
  }
  return result as MetricsModuleOptions;
}

async function fromFactoryClass(factory: unknown): Promise<MetricsModuleOptions> {
  const f = factory as Partial<MetricsOptionsFactory & LegacyMetricsOptionsFactory> | null | undefined;
  const name = (f as { constructor?: { name?: string } } | undefined)?.constructor?.name ?? 'the class';
  if (typeof f?.createMetricsOptions === 'function') {
    return checked(await f.createMetricsOptions(), `${name}.createMetricsOptions()`);
  }
  if (typeof f?.create === 'function') return checked(await f.create(), `${name}.create()`);
  throw new MetricsOptionsError(
    `MetricsModule.forRootAsync(): ${name} (useClass/useExisting) needs a createMetricsOptions() method that ` +
      'returns the options.',
  );
}

/**
 * `forRoot` / `forRootAsync`, always global: one import in the root module records the whole app. Written by hand
 * rather than with Nest's ConfigurableModuleBuilder so that the declarations we publish name only plain types
 * (its inferred types import `@nestjs/common` with `resolution-mode`, which TypeScript < 5.3 cannot parse).
 */
export class ConfigurableMetricsModule {
  /** Records every HTTP exchange of the app with these options (validated at startup). */
  static forRoot(this: Type<unknown>, options: MetricsModuleOptions): DynamicModule {
    return {
      module: this,
      global: true,
      providers: [
        { provide: METRICS_MODULE_OPTIONS, useValue: options },
        { provide: METRICS_CONFIGURED_BY, useValue: 'forRoot' },
      ],
    };
  }

  /** Options from other providers, e.g. `ConfigService`: `{ imports, inject, useFactory }`, `useClass` or `useExisting`. */
  static forRootAsync(this: Type<unknown>, options: MetricsModuleAsyncOptions): DynamicModule {
    const { useFactory, useClass, useExisting } = options ?? {};
    const given = [useFactory, useClass, useExisting].filter((x) => x !== undefined).length;
    if (given !== 1) {
      throw new MetricsOptionsError(
        'MetricsModule.forRootAsync() needs exactly one of useFactory, useClass or useExisting, e.g. ' +
          '{ imports: [ConfigModule], inject: [ConfigService], useFactory: (config) => ({ apiKey: ... }) }.',
      );
    }
    const optionsProvider: Provider = useFactory
      ? {
          provide: METRICS_MODULE_OPTIONS,
          inject: options.inject ?? [],
          useFactory: async (...args: unknown[]) =>
            checked(await (useFactory as (...a: unknown[]) => unknown)(...args), 'useFactory'),
        }
      : {
          provide: METRICS_MODULE_OPTIONS,
          inject: [(useClass ?? useExisting) as InjectionToken],
          useFactory: fromFactoryClass,
        };
    return {
      module: this,
      global: true,
      imports: options.imports ?? [],
      providers: [
        optionsProvider,
        { provide: METRICS_CONFIGURED_BY, useValue: 'forRootAsync' },
        ...(useClass ? [{ provide: useClass, useClass }] : []),
        ...(options.extraProviders ?? []),
      ],
    };
  }
}
