/** Who made a request, as returned by a group function. */
export interface MetricsGroupInfo {
  /** The caller's API key or another stable unique id. Never shipped raw: it is hashed (`sha512-…?last4`). */
  apiKey: string;
  /** Display name of the caller in the dashboard. */
  label?: string;
  /** Email of the caller, used by ReadMe to tie requests to users and companies. */
  email?: string;
}

/**
 * Tells who made a request. Receives the platform request (Express `Request` or Fastify `FastifyRequest`),
 * after guards ran, so `req.user` set by an auth guard is there. Return `null`/`undefined` to not record the exchange.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type MetricsGroupFn<TRequest = any> = (
  req: TRequest,
) => MetricsGroupInfo | null | undefined | Promise<MetricsGroupInfo | null | undefined>;
