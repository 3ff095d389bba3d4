import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { HttpProxyAgent } from 'http-proxy-agent';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { getProxyForUrl } from 'proxy-from-env';
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
  /** Open connections at most (keep-alive); the dispatcher never runs more calls than this at once. */
  maxSockets?: number;
  /**
   * Proxy for the calls, e.g. `http://user:pass@proxy.corp:3128`; `false`: connect directly. Default: the
   * environment's `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` (lower-case too), as axios and curl read them.
   */
  proxy?: string | false;
}

/**
 * Ships records to the ReadMe Metrics API over Node's own http/https with keep-alive agents. Not axios: a batch
 * costs a third of the CPU this way (measured in the benchmark), and the app's axios interceptors and defaults can
 * neither see nor change our traffic. Proxies from the environment are honoured as axios honours them.
 */
export class ReadmeTransport implements MetricsTransport {
  private readonly url: URL;
  private readonly headers: Record<string, string>;
  private readonly agent: HttpAgent;
  private readonly request: typeof httpRequest;

  constructor(private readonly options: ReadmeTransportOptions) {
    this.url = new URL(`${options.baseUrl.replace(/\/+$/, '')}/v1/request`);
    const https = this.url.protocol === 'https:';
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 4 };
    // Node's own http client ignores the *_PROXY variables; behind a corporate proxy the calls would never leave.
    const proxy = options.proxy === undefined ? getProxyForUrl(this.url.href) : options.proxy;
    if (proxy) {
      // https through the proxy is a CONNECT tunnel (TLS end to end); http is sent to the proxy in absolute form.
      this.agent = https ? new HttpsProxyAgent(proxy, agentOptions) : new HttpProxyAgent(proxy, agentOptions);
    } else {
      this.agent = https ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
    }
    this.request = https ? httpsRequest : httpRequest;
    this.headers = {
      authorization: `Basic ${Buffer.from(`${options.apiKey}:`).toString('base64')}`,
      'content-type': 'application/json',
      'user-agent': `${PACKAGE_NAME}/${PACKAGE_VERSION}`,
    };
  }

  async send(records: MetricsRecord[]): Promise<void> {
    const body = Buffer.from(JSON.stringify(records));
    const { status, retryAfter } = await this.post(body);
    if (status >= 200 && status < 300) return;
    throw new MetricsDeliveryError(`ReadMe Metrics answered HTTP ${status}`, status, parseRetryAfter(retryAfter));
  }

  /** One POST; resolves with the status once the reply ended (its body is drained, never kept). */
  private post(body: Buffer): Promise<{ status: number; retryAfter: string | undefined }> {
    return new Promise((resolve, reject) => {
      const fail = (error: Error) => {
        clearTimeout(deadline);
        reject(
          new MetricsDeliveryError(
            `ReadMe Metrics could not be reached (${(error as NodeJS.ErrnoException).code ?? 'network error'}: ${error.message})`,
          ),
        );
      };
      const req = this.request(
        this.url,
        {
          method: 'POST',
          agent: this.agent,
          headers: { ...this.headers, 'content-length': String(body.length) },
        },
        (res: IncomingMessage) => {
          const status = res.statusCode ?? 0;
          const retryAfter = res.headers['retry-after'];
          res.on('error', fail);
          res.on('close', () => {
            if (!res.complete) fail(new Error('the connection closed before the reply ended'));
          });
          res.on('end', () => {
            clearTimeout(deadline);
            resolve({ status, retryAfter });
          });
          res.resume();
        },
      );
      // The whole call, reply included, is bounded (a socket timeout would only bound idle gaps).
      const deadline = setTimeout(() => {
        const error = Object.assign(new Error(`timeout of ${this.options.timeout} ms exceeded`), { code: 'ETIMEDOUT' });
        req.destroy(error);
      }, this.options.timeout);
      deadline.unref();
      req.on('error', fail);
      req.end(body);
    });
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }
}
