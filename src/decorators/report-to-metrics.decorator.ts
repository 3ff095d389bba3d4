import { HttpException, type ArgumentsHost } from '@nestjs/common';
import { currentExchange, exchangeOf } from '../capture/request-context';

/**
 * For the `catch()` method of your own exception filters: the exception is attached to the request's record before
 * your filter answers. Needed only for exceptions that never pass an interceptor (guard rejections, 404s), since
 * the module's interceptor already sees handler, pipe and interceptor errors.
 *
 * ```ts
 * @Catch()
 * export class AllExceptionsFilter implements ExceptionFilter {
 *   @ReportToMetrics()
 *   catch(exception: unknown, host: ArgumentsHost) { … }
 * }
 * ```
 */
export function ReportToMetrics(): MethodDecorator {
  return (_target, _key, descriptor: PropertyDescriptor) => {
    const original = descriptor.value as (exception: unknown, host: ArgumentsHost, ...rest: unknown[]) => unknown;
    descriptor.value = function (this: unknown, exception: unknown, host: ArgumentsHost, ...rest: unknown[]) {
      try {
        const exchange =
          host?.getType?.() === 'http'
            ? (exchangeOf(host.switchToHttp().getRequest()) ?? currentExchange())
            : undefined;
        exchange?.reportError(exception, 'filter', exception instanceof HttpException);
      } catch {
        // Reporting must never change what the filter does.
      }
      return original.call(this, exception, host, ...rest);
    };
    return descriptor;
  };
}
