import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import {
  ForbiddenException,
  Module,
  ParseIntPipe,
  UseGuards,
  type CanActivate,
  type DynamicModule,
  type ExecutionContext,
} from '@nestjs/common';
import {
  Args,
  Field,
  GraphQLModule,
  InputType,
  Int,
  Mutation,
  ObjectType,
  Query,
  Resolver,
  Subscription,
} from '@nestjs/graphql';
import { MercuriusDriver, type MercuriusDriverConfig } from '@nestjs/mercurius';
import {
  MetricsCapture,
  MetricsGroup,
  MetricsModule,
  MetricsSample,
  MetricsService,
  SkipMetrics,
  type MetricsModuleOptions,
} from '../../src';
import { startApp, type AdapterName, type RunningApp } from './adapters';

/** The GraphQL driver/platform pairs every GraphQL test runs on. */
export type GraphqlDriverName = 'apollo-express' | 'apollo-fastify' | 'mercurius-fastify';
export const GRAPHQL_DRIVERS: GraphqlDriverName[] = ['apollo-express', 'apollo-fastify', 'mercurius-fastify'];

@ObjectType()
class Order {
  @Field()
  id!: string;

  @Field(() => Int)
  total!: number;
}

@InputType()
class DeepInput {
  @Field({ nullable: true })
  note?: string;

  @Field({ nullable: true })
  token?: string;
}

@InputType()
class CredentialsInput {
  @Field()
  user!: string;

  @Field({ nullable: true })
  password?: string;

  @Field(() => [DeepInput], { nullable: true })
  deep?: DeepInput[];
}

/** Rejects every caller: a guard on a resolver. */
class DenyGuard implements CanActivate {
  canActivate(_context: ExecutionContext): boolean {
    throw new ForbiddenException('no access to the vault');
  }
}

/** The request the group function got, per test (proves it is the platform request, as for REST handlers). */
export const graphqlSeen: { groupRequests: unknown[] } = { groupRequests: [] };

@Resolver(() => Order)
class ShopResolver {
  constructor(private readonly metrics: MetricsService) {}

  @Query(() => Order)
  order(@Args('id') id: string): Order {
    return { id, total: 42 };
  }

  @Query(() => [Order])
  orders(): Order[] {
    return [{ id: '1', total: 1 }];
  }

  @Query(() => String, { nullable: true })
  boom(): string {
    throw new Error('resolver exploded');
  }

  @Query(() => String)
  @UseGuards(DenyGuard)
  vault(): string {
    return 'never';
  }

  /** A pipe that rejects what it cannot parse. */
  @Query(() => Int)
  count(@Args('n', { type: () => String }, ParseIntPipe) n: number): number {
    return n;
  }

  @Query(() => String)
  soft(): string {
    this.metrics.reportError(new Error('soft failure in a resolver'));
    return 'fine';
  }

  @Query(() => String)
  @SkipMetrics()
  health(): string {
    return 'ok';
  }

  @Query(() => String)
  @MetricsSample(0)
  sampledOut(): string {
    return 'ok';
  }

  @Query(() => String)
  @MetricsCapture({ responseBody: false })
  quiet(): string {
    return 'quiet-answer';
  }

  @Query(() => String)
  @MetricsGroup((req: { headers: Record<string, string | undefined> }) => {
    graphqlSeen.groupRequests.push(req);
    return { apiKey: req.headers['x-tenant'] ?? 'none', label: 'Tenant' };
  })
  tenant(): string {
    return 'tenant';
  }

  /** Two events, then done: a subscription over WebSockets (out of scope for recording; must keep working). */
  @Subscription(() => String, { resolve: (payload: { ticks: string }) => payload.ticks })
  ticks(): AsyncIterableIterator<{ ticks: string }> {
    return (async function* () {
      yield { ticks: 'one' };
      yield { ticks: 'two' };
    })();
  }

  @Mutation(() => Boolean)
  refund(@Args('id') id: string): boolean {
    return id.length > 0;
  }

  @Mutation(() => String)
  login(@Args('user') user: string, @Args('password') password: string): string {
    return `${user}:${password.length}`;
  }

  @Mutation(() => String)
  signIn(@Args('input') input: CredentialsInput): string {
    return `${input.user}:${input.password?.length ?? 0}:${input.deep?.length ?? 0}`;
  }
}

@Resolver()
@SkipMetrics()
class InternalResolver {
  @Query(() => String)
  internalPing(): string {
    return 'pong';
  }
}

/** Where the driver serves GraphQL (its `path`) and whether the app's global prefix applies to it. */
export interface GraphqlMount {
  path?: string;
  useGlobalPrefix?: boolean;
}

function driverModule(driver: GraphqlDriverName, mount: GraphqlMount = {}): DynamicModule {
  if (driver === 'mercurius-fastify') {
    return GraphQLModule.forRoot<MercuriusDriverConfig>({
      ...mount,
      driver: MercuriusDriver,
      autoSchemaFile: true,
      allowBatchedQueries: true,
      graphiql: false,
      subscription: true,
    });
  }
  return GraphQLModule.forRoot<ApolloDriverConfig>({
    ...mount,
    driver: ApolloDriver,
    autoSchemaFile: true,
    allowBatchedHttpRequests: true,
    playground: false,
    subscriptions: { 'graphql-ws': true },
    includeStacktraceInErrorResponses: false,
  });
}

export function graphqlAppModule(
  driver: GraphqlDriverName,
  options: MetricsModuleOptions,
  mount?: GraphqlMount,
): DynamicModule {
  @Module({})
  class GraphqlAppModule {}
  return {
    module: GraphqlAppModule,
    imports: [
      MetricsModule.forRoot({ group: () => ({ apiKey: 'gql-key-1234', label: 'Acme' }), ...options }),
      driverModule(driver, mount),
    ],
    providers: [ShopResolver, InternalResolver],
  };
}

export function platformOf(driver: GraphqlDriverName): AdapterName {
  return driver === 'apollo-express' ? 'express' : 'fastify';
}

export function startGraphqlApp(
  driver: GraphqlDriverName,
  options: MetricsModuleOptions,
  mount?: GraphqlMount & { globalPrefix?: string },
): Promise<RunningApp> {
  if (mount) {
    return startApp(graphqlAppModule(driver, options, mount), platformOf(driver), (app) => {
      if (mount.globalPrefix) app.setGlobalPrefix(mount.globalPrefix);
    });
  }
  return startApp(
    graphqlAppModule(driver, options),
    platformOf(driver),
    undefined,
    process.env.GQL_LOG ? console : false,
  );
}
