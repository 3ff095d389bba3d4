import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { HttpProxyAgent } from 'http-proxy-agent';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { getProxyForUrl } from 'proxy-from-env';
import type { MetricsRecord } from '../../interfaces/metrics-record.interface';
import type { MetricsTransport } from '../../interfaces/metrics-transport.interface';
import { ENCODED_SENDER, type EncodedSender } from '../../interfaces/encoded-transport.interface';
import { PACKAGE_NAME, PACKAGE_VERSION } from '../../metrics.constants';
import { MetricsDeliveryError, parseRetryAfter } from '../delivery-error';
import { rememberOrigin } from './transport-origin';

const OPEN = Buffer.from('[');
const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']');

/** Once a batch was sent, its answer is awaited up to this many times `timeout` from the call's start. */
const ANSWER_TIMEOUT_FACTOR = 3;

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
  private readonly url: URL;
  private readonly headers: Record<string, string>;
  private readonly agent: HttpAgent;
  private readonly request: typeof httpRequest;
  /** After close(): no new call, and a reset is ours, not a stale keep-alive connection. */
  private closed = false;

  constructor(private readonly options: ReadmeTransportOptions) {
    rememberOrigin(this, 'readme', options);
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
    const { status, retryAfter } = await this.post(body);
    if (status >= 200 && status < 300) return;
    throw new MetricsDeliveryError(`ReadMe Metrics answered HTTP ${status}`, status, parseRetryAfter(retryAfter));
  }

  /**
   * One POST; resolves with the status once the reply's head arrived and the reply ended (its body is drained, never
   * kept). Until the whole body is written, the call is bounded by `timeout` and a failure means the collector never
   * had the batch; once written, the answer is awaited up to `answerTimeout` and a failure says the batch may have
   * arrived (`mayHaveArrived`), so that it is not sent twice.
   */
  private post(body: Buffer): Promise<{ status: number; retryAfter: string | undefined }> {
    const { timeout } = this.options;
    const answerTimeout = Math.max(timeout, this.options.answerTimeout ?? ANSWER_TIMEOUT_FACTOR * timeout);
    const started = performance.now();
    return new Promise((resolve, reject) => {
      let settled = false;
      let written = false;
      let status: number | undefined;
      let retryAfter: string | undefined;
      const settle = (done: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        done();
      };
      // Once the head arrived the collector has decided: a reply cut short still carries its status.
      const answered = () => settle(() => resolve({ status: status ?? 0, retryAfter }));
      const fail = (error: Error) => {
        if (status !== undefined) return answered();
        const code = (error as NodeJS.ErrnoException).code;
        // A keep-alive connection the collector had closed before our request reached it: it never read the batch
        // (the case Node's docs give for retrying on `reusedSocket`).
        const stale = !this.closed && req.reusedSocket && (code === 'ECONNRESET' || code === 'EPIPE');
        settle(() =>
          reject(
            new MetricsDeliveryError(
              `ReadMe Metrics could not be reached (${code ?? 'network error'}: ${error.message})`,
              undefined,
              undefined,
              { mayHaveArrived: written && !stale },
            ),
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
          status = res.statusCode ?? 0;
          const header = res.headers['retry-after'];
          retryAfter = Array.isArray(header) ? header[0] : header;
          res.on('error', fail);
          res.on('close', answered);
          res.on('end', answered);
          res.resume();
        },
      );
      // The body reached the socket: from now on the collector may hold the batch.
      req.on('finish', () => (written = true));
      // Every call is bounded, the reply included (a socket timeout would only bound idle gaps).
      const onDeadline = () => {
        const elapsed = performance.now() - started;
        if (written && status === undefined && elapsed < answerTimeout) {
          deadline = setTimeout(onDeadline, Math.ceil(answerTimeout - elapsed));
          deadline.unref();
          return;
        }
        if (status !== undefined) {
          answered();
          req.destroy();
          return;
        }
        const message = written
          ? `no answer within ${answerTimeout} ms of sending the batch`
          : `timeout of ${timeout} ms exceeded before the batch was sent`;
        const error = Object.assign(new Error(message), { code: 'ETIMEDOUT' });
        req.destroy(error);
        // A request still waiting for its socket (a proxy agent connecting) emits no error when destroyed.
        fail(error);
      };
      let deadline = setTimeout(onDeadline, timeout);
      deadline.unref();
      req.on('error', fail);
      req.end(body);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.agent.destroy();
  }
}
