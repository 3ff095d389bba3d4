import { Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { CUSTOMERS } from '../owlbert';

export interface CustomerRequest {
  headers: Record<string, string | string[] | undefined>;
  customer?: { key: string; name: string; email: string };
}

/** Rejects requests without a known `x-api-key`; the 401s are recorded too (they never reach interceptors). */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<CustomerRequest>();
    const key = req.headers['x-api-key'];
    const customer = typeof key === 'string' ? CUSTOMERS[key] : undefined;
    if (!customer) throw new UnauthorizedException('Send a valid x-api-key header (try acme-key-0001)');
    req.customer = { key: key as string, ...customer };
    return true;
  }
}
