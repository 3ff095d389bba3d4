/*
 * The benchmark's collector on 127.0.0.1: accepts whatever the variants ship, counts calls, bytes and (for
 * ReadMe-format arrays) records, and checks that each record's bodies arrived intact. GET /stats, POST /reset.
 */
import { createServer } from 'node:http';
import { gunzipSync } from 'node:zlib';

let stats = { calls: 0, bytes: 0, records: 0, recordsWithBodies: 0 };

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(stats));
    return;
  }
  if (req.method === 'POST' && req.url === '/reset') {
    stats = { calls: 0, bytes: 0, records: 0, recordsWithBodies: 0 };
    res.writeHead(204).end();
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let body = Buffer.concat(chunks);
    stats.calls++;
    stats.bytes += body.length;
    try {
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const parsed: unknown = JSON.parse(body.toString('utf8'));
      if (Array.isArray(parsed) && req.url === '/v1/request') {
        for (const record of parsed as {
          request?: { log?: { entries?: { response?: { content?: { text?: string } } }[] } };
        }[]) {
          stats.records++;
          const text = record.request?.log?.entries?.[0]?.response?.content?.text ?? '';
          if (text.length > 500) stats.recordsWithBodies++;
        }
      }
    } catch {
      // other vendors' formats are only counted in calls and bytes
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address() as { port: number };
  process.stdout.write(`ready ${address.port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
