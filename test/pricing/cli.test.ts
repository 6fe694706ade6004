import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createTollgate } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/shared/log.ts';
import { openDb } from '../../src/shared/db/index.ts';
import { TEST_DB } from '../helpers/db.ts';
import { llmEvent } from '../helpers/app.ts';

const run = promisify(execFile);
const BIN = path.resolve('bin/tollgate.mjs');

describe.runIf(TEST_DB === 'pglite')('tollgate reprice', () => {
  it('prices flagged events once a price exists (TOLLGATE_PRICING), directly on a PGlite data dir', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tollgate-reprice-'));
    const config = loadConfig({ env: { TOLLGATE_DATA_DIR: dir }, cwd: '/nonexistent', overrides: { log_level: 'silent' } });
    const db = await openDb({ dataDir: dir });
    const tg = await createTollgate(config, { db, logger: createLogger('silent', false) });
    const ing = await tg.events.ingest([
      llmEvent('c-1', { data: { provider: 'acme', model: 'm1', input_tokens: 1000, output_tokens: 10 } }),
      llmEvent('c-2', { time: '2026-02-01T00:00:00Z', data: { provider: 'acme', model: 'm1', input_tokens: 1000, output_tokens: 10 } }),
    ]);
    expect(ing.accepted).toBe(2);
    await tg.close();
    await db.close();

    const env: NodeJS.ProcessEnv = { ...process.env, TOLLGATE_DATA_DIR: dir, TOLLGATE_PRICING: '{"acme":{"*":{"m1":{"input":"1","output":"2"}}}}' };
    delete env.DATABASE_URL;
    const r = await run(process.execPath, [BIN, 'reprice', '--from', '2026-01-01', '--to', '2026-01-31', '--no-progress'], { env, timeout: 60_000 });
    expect(r.stdout).toContain('repriced 1 event(s)');
    expect(r.stdout).toContain('1 newly priced, 0 still unpriced');

    const check = await openDb({ dataDir: dir });
    const rows = await check.query<{ id: string; cost: string | null; unpriced: boolean }>(`SELECT id, cost::text AS cost, unpriced FROM events ORDER BY id`);
    await check.close();
    expect(rows.rows).toEqual([
      { id: 'c-1', cost: '0.00102', unpriced: false },
      { id: 'c-2', cost: null, unpriced: true }, // outside the range
    ]);

    const bad = await run(process.execPath, [BIN, 'reprice', '--from', '2026-02-01', '--to', '2026-01-01'], { env, timeout: 60_000 }).catch((e) => e);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--to must be after --from');
    await rm(dir, { recursive: true, force: true });
  });
});
