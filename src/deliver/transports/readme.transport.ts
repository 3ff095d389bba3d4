import type { MetricsRecord } from '../../interfaces/metrics-record.interface';
import type { MetricsTransport } from '../../interfaces/metrics-transport.interface';
import { ENCODED_SENDER, type EncodedSender } from '../../interfaces/encoded-transport.interface';
import { PACKAGE_NAME, PACKAGE_VERSION } from '../../metrics.constants';
import { MetricsDeliveryError, parseRetryAfter } from '../delivery-error';
import { HttpSender } from '../http-sender';
import type { ResolvedMetricsOptions } from '../../metrics.options';
import { rememberOrigin } from './transport-origin';

const OPEN = Buffer.from('[');
const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']');

export interface ReadmeTransportOptions {
  apiKey: string;
  /** Records are POSTed to `{baseUrl}/v1/request`. */
  baseUrl: string;
  /** ms to connect and send a batch; past it the call is aborted and retried (the collector cannot have it all). */
  timeout: number;
  /**
   * ms from the start of a call to wait for the answer once the whole batch was sent. Past it the call is given up
   * and not resent: the collector may have stored the batch. Default 3 × `timeout`.
   */
  answerTimeout?: number;
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
  private readonly sender: HttpSender;
  /** After close(): no new call. */
  private closed = false;

  constructor(options: ReadmeTransportOptions) {
    rememberOrigin(this, 'readme', options);
    // A batch sent in full but never answered is not resent: ReadMe does not deduplicate records by `_id`.
    this.sender = new HttpSender({
      url: new URL(`${options.baseUrl.replace(/\/+$/, '')}/v1/request`),
      headers: {
        authorization: `Basic ${Buffer.from(`${options.apiKey}:`).toString('base64')}`,
        'content-type': 'application/json',
        'user-agent': `${PACKAGE_NAME}/${PACKAGE_VERSION}`,
      },
      timeout: options.timeout,
      answerTimeout: options.answerTimeout,
      maxSockets: options.maxSockets,
      proxy: options.proxy,
      peer: 'ReadMe Metrics',
      unanswered: 'give-up',
    });
  }

  async send(records: MetricsRecord[]): Promise<void> {
    if (this.closed) throw new MetricsDeliveryError('the ReadMe transport is closed (application shutdown)');
    await this.postBatch(Buffer.from(JSON.stringify(records)));
  }

  /** Built-in only (see encodedSenderOf): records written once, at settle, as their JSON text. */
  [ENCODED_SENDER](): EncodedSender | undefined {
    if (this.send !== ReadmeTransport.prototype.send) return undefined;
    return { format: 'readme-record', send: (records) => this.sendEncoded(records) };
  }

  /**
   * A batch of records each already written as JSON text: the body is `[` + their concatenation with `,` + `]`,
   * byte for byte what `JSON.stringify` of the record objects gives.
   */
  private async sendEncoded(records: Buffer[]): Promise<void> {
    if (this.closed) throw new MetricsDeliveryError('the ReadMe transport is closed (application shutdown)');
    const parts: Buffer[] = [OPEN];
    for (let i = 0; i < records.length; i++) {
      if (i > 0) parts.push(COMMA);
      parts.push(records[i] as Buffer);
    }
    parts.push(CLOSE);
    await this.postBatch(Buffer.concat(parts));
  }

  private async postBatch(body: Buffer): Promise<void> {
    const { status, retryAfter } = await this.sender.post(body);
    if (status >= 200 && status < 300) return;
    throw new MetricsDeliveryError(`ReadMe Metrics answered HTTP ${status}`, status, parseRetryAfter(retryAfter));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.sender.close();
  }
}

/** The ReadMe transport the module builds when no `transport` is given: from `apiKey`, `baseUrl`, `proxy`, `timeout`. */
export function readmeTransportOptions(options: ResolvedMetricsOptions): ReadmeTransportOptions {
  return {
    apiKey: options.apiKey ?? '',
    baseUrl: options.baseUrl,
    proxy: options.proxy,
    timeout: options.timeout,
    maxSockets: options.maxConcurrentRequests,
  };
}
