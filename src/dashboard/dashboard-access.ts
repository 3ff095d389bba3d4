import { isIPv4 } from 'node:net';

/**
 * Whether a socket's remote address is a loopback one: 127.0.0.0/8, ::1, or either mapped into IPv6
 * (`::ffff:127.0.0.1`). The socket's address only: never a header (`X-Forwarded-For` and the like are the client's
 * word). Undefined (a socket already closed) is not loopback.
 */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.toLowerCase();
  if (a === '::1' || a === '0:0:0:0:0:0:0:1') return true;
  const v4 = a.startsWith('::ffff:') ? a.slice(7) : a;
  return isIPv4(v4) && v4.startsWith('127.');
}

/** The access rule: `allow` decides when given, else the socket must be loopback. */
export type DashboardAllow = (req: unknown) => boolean | Promise<boolean>;

/**
 * Decides whether a request may see the dashboard: `allow(req)` when the options give one (true only for `true`; a
 * throw, a rejection or no answer within `timeout` ms is a no), else the socket's address must be loopback.
 */
export async function mayAccess(
  allow: DashboardAllow | undefined,
  req: unknown,
  remoteAddress: string | undefined,
  timeout: number,
): Promise<boolean> {
  if (!allow) return isLoopbackAddress(remoteAddress);
  let timer: NodeJS.Timeout | undefined;
  try {
    const verdict = await Promise.race([
      Promise.resolve(allow(req)),
      new Promise<false>((resolve) => {
        timer = setTimeout(resolve, timeout, false);
        timer.unref();
      }),
    ]);
    return verdict === true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
