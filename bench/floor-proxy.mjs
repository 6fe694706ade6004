// The floor for any Node.js gateway on this machine: a bare pass-through process (Node http in,
// undici out, no auth, no parsing, no recording). bench:gateway measures it beside Tollgate, so
// what the machine's extra process hop costs is told apart from what Tollgate's own work costs.
// It reads the upstream in undici's dispatch callbacks and writes each chunk as it arrives, the
// cheapest way Node offers (a `request()` + `for await` version added ~0.1 ms more at p50).
import http from 'node:http';
import { Pool } from 'undici';

const pool = new Pool(process.argv[2], { connections: 256, keepAliveTimeout: 60_000 });

class Relay {
  constructor(res) {
    this.res = res;
  }
  onRequestStart() {}
  onResponseStart(_c, status, headers) {
    if (status < 200) return;
    const out = { 'content-type': headers['content-type'] ?? 'application/json' };
    if (headers['content-length'] !== undefined) out['content-length'] = headers['content-length'];
    this.res.writeHead(status, out);
  }
  onResponseData(_c, chunk) {
    this.res.write(chunk);
  }
  onResponseEnd() {
    this.res.end();
  }
  onResponseError(_c, err) {
    this.res.destroy(err);
  }
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    pool.dispatch({ path: req.url.replace(/^\/(openai|google)/, ''), method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.concat(chunks) }, new Relay(res));
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
