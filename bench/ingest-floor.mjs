// The floor for bench:ingest on this machine: a bare Node process that takes the same POSTs, parses
// the JSON and — given a PostgreSQL URL — stores each batch with one plain INSERT into a table with
// the same (source, id) primary key, then answers 202. No auth, validation, pricing, hooks or
// rollups. bench:ingest runs it beside Tollgate and reports Tollgate's rate as a ratio to it, so a
// slow spell of the (shared) machine is told apart from a slower Tollgate.
import http from 'node:http';
import pg from 'pg';

const dbUrl = process.argv[2] || '';
const pool = dbUrl ? new pg.Pool({ connectionString: dbUrl, max: 8 }) : null;
if (pool) {
  await pool.query(`CREATE TABLE IF NOT EXISTS floor_events (source text, id text, type text, subject text, time timestamptz, data jsonb, PRIMARY KEY (source, id))`);
}
const INSERT = `INSERT INTO floor_events (source, id, type, subject, time, data)
SELECT e->>'source', e->>'id', e->>'type', e->>'subject', (e->>'time')::timestamptz, e->'data'
FROM jsonb_array_elements($1::jsonb) e ON CONFLICT (source, id) DO NOTHING`;

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    try {
      const text = Buffer.concat(chunks).toString('utf8');
      const events = JSON.parse(text);
      const accepted = pool ? (await pool.query(INSERT, [text])).rowCount : events.length;
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ accepted, duplicates: 0, rejected: [] }));
    } catch (e) {
      res.writeHead(500);
      res.end(String(e));
    }
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\n'));
