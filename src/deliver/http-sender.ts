import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { HttpProxyAgent } from 'http-proxy-agent';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { getProxyForUrl } from 'proxy-from-env';
import { MetricsDeliveryError } from './delivery-error';

/** Once a batch was sent, its answer is awaited up to this many times `timeout` from the call's start. */
const ANSWER_TIMEOUT_FACTOR = 3;

/**
 * What to do with a batch that was written in full but never answered (the answer deadline passed, the connection
 * closed, the reply was not HTTP): the collector may have stored it.
 * - `give-up` (ReadMe): never sent again, counted `unconfirmed`. ReadMe does not deduplicate records by `_id`, so a
 *   resend could store each record twice.
 * - `resend` (OTLP over HTTP, APIToolkit): retried like any failure, as the OpenTelemetry exporters do. Each span
 *   carries its own trace and span id, so a backend can recognise a duplicate; a lost batch could not be recovered.
 */
export type UnansweredPolicy = 'give-up' | 'resend';

export interface HttpSenderOptions {
  url: URL;
  /** Sent with every call (content type, authorization, user agent…); content-length is added per call. */
  headers: Record<string, string>;
  /** ms to connect and send a batch; past it the call is aborted (the collector cannot have it all). */
  timeout: number;
  /** ms from the start of a call to wait for the answer once the whole batch was sent. Default 3 × `timeout`. */
  answerTimeout?: number;
  /** Open connections at most (keep-alive). */
  maxSockets?: number;
  /** Proxy URL; `false`: connect directly; undefined: the environment's HTTPS_PROXY / HTTP_PROXY / NO_PROXY. */
  proxy?: string | false;
  /** Who is called, for error messages: "ReadMe Metrics", "OTLP collector". */
  peer: string;
  unanswered: UnansweredPolicy;
}

/** The collector's answer: its status, and Retry-After when it sent one. */
export interface HttpAnswer {
  status: number;
  retryAfter: string | undefined;
}

/**
 * The one HTTP client of the built-in transports (ReadMe, OTLP/http, APIToolkit/http): Node's own http/https with
 * keep-alive agents (not axios: a batch costs a third of the CPU this way, and the app's axios interceptors and
 * defaults can neither see nor change our traffic), proxies from the environment as axios and curl read them, and a
 * deadline on every call, the answer included. A failure is a MetricsDeliveryError; whether it may be sent again
 * follows `unanswered`.
 */
export class HttpSender {
  private readonly agent: HttpAgent;
  private readonly request: typeof httpRequest;
  /** After close(): a reset is ours, not a stale keep-alive connection. */
  private closed = false;

  constructor(private readonly options: HttpSenderOptions) {
    const https = options.url.protocol === 'https:';
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 4 };
    // Node's own http client ignores the *_PROXY variables; behind a corporate proxy the calls would never leave.
    const proxy = options.proxy === undefined ? getProxyForUrl(options.url.href) : options.proxy;
    if (proxy) {
      // https through the proxy is a CONNECT tunnel (TLS end to end); http is sent to the proxy in absolute form.
      this.agent = https ? new HttpsProxyAgent(proxy, agentOptions) : new HttpProxyAgent(proxy, agentOptions);
    } else {
      this.agent = https ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
    }
    this.request = https ? httpsRequest : httpRequest;
  }

  /**
   * One POST; resolves with the status once the reply's head arrived and the reply ended (its body is drained, never
   * kept). Until the whole body is written, the call is bounded by `timeout` and a failure means the collector never
   * had the batch; once written, the answer is awaited up to `answerTimeout`, and a failure then says the batch may
   * have arrived (`mayHaveArrived`) unless the policy is to resend.
   */
  post(body: Buffer): Promise<HttpAnswer> {
    const { timeout, peer } = this.options;
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
        const mayHaveArrived = this.options.unanswered === 'give-up' && written && !stale;
        settle(() =>
          reject(
            new MetricsDeliveryError(
              `${peer} could not be reached (${code ?? 'network error'}: ${error.message})`,
              undefined,
              undefined,
              { mayHaveArrived },
            ),
          ),
        );
      };
      const req = this.request(
        this.options.url,
        {
          method: 'POST',
          agent: this.agent,
          headers: { ...this.options.headers, 'content-length': String(body.length) },
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

  close(): void {
    this.closed = true;
    this.agent.destroy();
  }
}
