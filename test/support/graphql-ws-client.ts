// ws ships no types of its own; this is the little of it the client needs.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const WebSocket = require('ws') as new (
  url: string,
  protocol: string,
) => {
  on(event: 'open' | 'close', listener: () => void): void;
  on(event: 'message', listener: (data: Buffer) => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
  send(text: string): void;
  close(): void;
};

/**
 * One subscription over the GraphQL over WebSocket protocol (`graphql-transport-ws`, as graphql-ws and Mercurius
 * speak it): the `next` payloads until the server completes it. Bounded by `timeoutMs`.
 */
export function subscribeOnce(httpUrl: string, query: string, timeoutMs = 5000): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${httpUrl.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
    const payloads: unknown[] = [];
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`subscription did not complete in ${timeoutMs} ms (got ${JSON.stringify(payloads)})`));
    }, timeoutMs);
    timer.unref();
    const done = (error?: Error) => {
      clearTimeout(timer);
      socket.close();
      if (error) reject(error);
      else resolve(payloads);
    };
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init' })));
    socket.on('error', done);
    socket.on('message', (data) => {
      const message = JSON.parse(data.toString()) as { type: string; payload?: unknown };
      if (message.type === 'connection_ack') {
        socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query } }));
      } else if (message.type === 'next') {
        payloads.push(message.payload);
      } else if (message.type === 'complete') {
        done();
      } else if (message.type === 'error') {
        done(new Error(`subscription error: ${JSON.stringify(message.payload)}`));
      }
    });
  });
}
