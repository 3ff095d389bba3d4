import type { HttpService } from '@nestjs/axios';
import { isAxiosError } from 'axios';
import { firstValueFrom } from 'rxjs';
import type { MetricsRecord } from '../../interfaces/metrics-record.interface';
import type { MetricsTransport } from '../../interfaces/metrics-transport.interface';
import { PACKAGE_NAME, PACKAGE_VERSION } from '../../metrics.constants';
import { MetricsDeliveryError, parseRetryAfter } from '../delivery-error';

export interface ReadmeTransportOptions {
  apiKey: string;
  /** Records are POSTed to `{baseUrl}/v1/request`. */
  baseUrl: string;
  /** ms per call. */
  timeout: number;
}

/**
 * Ships records to the ReadMe Metrics API. Uses the module's own `HttpService` (keep-alive agents), never the
 * app's, so the app's axios interceptors and defaults neither see nor change our traffic.
 */
export class ReadmeTransport implements MetricsTransport {
  private readonly url: string;
  private readonly authorization: string;

  constructor(
    private readonly http: HttpService,
    private readonly options: ReadmeTransportOptions,
  ) {
    this.url = `${options.baseUrl}/v1/request`;
    this.authorization = `Basic ${Buffer.from(`${options.apiKey}:`).toString('base64')}`;
  }

  async send(records: MetricsRecord[]): Promise<void> {
    let status: number;
    let retryAfter: unknown;
    try {
      const response = await firstValueFrom(
        this.http.post(this.url, records, {
          headers: {
            authorization: this.authorization,
            'content-type': 'application/json',
            'user-agent': `${PACKAGE_NAME}/${PACKAGE_VERSION}`,
          },
          timeout: this.options.timeout,
          maxRedirects: 0,
          validateStatus: () => true,
          // The reply is not used; never buffer a large or malformed one.
          responseType: 'text',
          maxContentLength: 1024 * 1024,
        }),
      );
      status = response.status;
      retryAfter = response.headers['retry-after'];
    } catch (error) {
      const reason = isAxiosError(error) ? `${error.code ?? 'network error'}: ${error.message}` : String(error);
      throw new MetricsDeliveryError(`ReadMe Metrics could not be reached (${reason})`);
    }
    if (status >= 200 && status < 300) return;
    throw new MetricsDeliveryError(`ReadMe Metrics answered HTTP ${status}`, status, parseRetryAfter(retryAfter));
  }

  async close(): Promise<void> {
    const { httpAgent, httpsAgent } = this.http.axiosRef.defaults;
    (httpAgent as { destroy?: () => void } | undefined)?.destroy?.();
    (httpsAgent as { destroy?: () => void } | undefined)?.destroy?.();
  }
}
