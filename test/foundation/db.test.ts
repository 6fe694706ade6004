import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDb } from '../helpers/db.ts';
import type { Db } from '../../src/shared/db/index.ts';

let db: Db;
beforeAll(async () => {
  db = await freshDb();
});
afterAll(() => db.close());

const backend = async () => (await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;

describe('the query interface', () => {
  it('an error the server answers with keeps the connection: the next query does not reconnect', async () => {
    const pid = await backend();
    await expect(db.query('SELECT 1 / 0')).rejects.toMatchObject({ code: '22012' });
    expect(await backend()).toBe(pid);
    await expect(db.transaction(async (tx) => tx.query("SELECT 'x'::int"))).rejects.toMatchObject({ code: '22P02' });
    expect(await backend()).toBe(pid);
    // and the connection is clean: not left inside a failed transaction
    expect((await db.query<{ n: number }>('SELECT 1 AS n')).rows[0]!.n).toBe(1);
  });
});
