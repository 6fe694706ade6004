// The floor for any Node.js gateway on this machine: a bare pass-through process (Node http in,
// undici out, no auth, no parsing, no recording). bench:gateway measures it beside Tollgate, so
// what the machine's extra process hop costs is told apart from what Tollgate's own work costs.
import http from 'node:http';
import { Pool } from 'undici';

const pool = new Pool(process.argv[2], { connections: 256, keepAliveTimeout: 60_000 });
const server = http.createServer(async (req, res) => {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const r = await pool.request({ path: req.url.replace(/^\/openai/, ''), method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.concat(chunks) });
  res.writeHead(r.statusCode, { 'content-type': r.headers['content-type'] ?? 'application/json' });
  for await (const c of r.body) res.write(c);
  res.end();
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
