// The bench's exchange (bench/app.ts's GET or POST /items with its ~1 KB JSON), as capture hands it over: 100 of them
// for the micro-benches, each with its own id.
'use strict';
const { PAYLOAD } = require('../dist/bench/variants');

const body = JSON.stringify(PAYLOAD);

/** 100 captured exchanges of `method` (GET or POST). */
function benchExchanges(method) {
  return Array.from({ length: 100 }, (_, i) => ({
    id: `0c1d2e3f-aaaa-4bbb-8ccc-${String(i).padStart(12, '0')}`,
    platform: 'express',
    startedAt: Date.now(),
    durationMs: 1.234,
    aborted: false,
    method,
    url: 'http://127.0.0.1:3000/items',
    httpVersion: 'HTTP/1.1',
    requestHeaders: [
      'Host',
      '127.0.0.1:3000',
      'content-type',
      'application/json',
      'x-api-key',
      'bench-user-key',
    ].concat(method === 'POST' ? ['Content-Length', String(body.length)] : []),
    requestBody: method === 'POST' ? { text: body, size: body.length, truncated: false, source: 'parsed' } : undefined,
    status: 200,
    statusText: 'OK',
    responseHeaders: [],
    responseHead:
      'HTTP/1.1 200 OK\r\nX-Powered-By: Express\r\nContent-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${body.length}\r\nETag: W/"3f5-abc"\r\nConnection: keep-alive\r\n\r\n`,
    responseBody: { text: body, size: body.length, truncated: false, source: 'wire' },
    route: '/items',
    clientIp: '127.0.0.1',
    group: { apiKey: 'bench-user-key', label: 'Bench', email: 'bench@example.com' },
  }));
}

module.exports = { benchExchanges };
