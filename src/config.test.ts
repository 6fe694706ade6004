import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, ConfigError } from './config.ts';

describe('config', () => {
  it('has working defaults', () => {
    const c = loadConfig({ env: {}, cwd: '/nonexistent' });
    expect(c).toMatchObject({ host: '127.0.0.1', port: 8787, data_dir: './.tollgate', tz: 'UTC' });
    expect(c.database_url).toBeUndefined();
  });

  it('reads the YAML file and lets the environment win', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
    writeFileSync(path.join(dir, 'tollgate.config.yaml'), 'port: 9000\ntz: Asia/Seoul\ningest:\n  max_batch: 500\n');
    const c = loadConfig({ env: { PORT: '9100' }, cwd: dir });
    expect(c.port).toBe(9100);
    expect(c.tz).toBe('Asia/Seoul');
    expect(c.ingest.max_batch).toBe(500);
  });

  it.each([
    [{ PORT: 'eighty' }, 'port (from PORT)'],
    [{ TOLLGATE_TZ: 'Mars/Olympus' }, 'tz (from TOLLGATE_TZ)'],
    [{ DATABASE_URL: 'mysql://x' }, 'database_url (from DATABASE_URL)'],
    [{ TOLLGATE_INGEST_MAX_BATCH: '0' }, 'ingest.max_batch (from TOLLGATE_INGEST_MAX_BATCH)'],
    [{ TOLLGATE_BOOTSTRAP_KEY: 'short' }, 'bootstrap_key (from TOLLGATE_BOOTSTRAP_KEY)'],
  ])('a bad value stops start naming the field: %o', (env, field) => {
    expect(() => loadConfig({ env, cwd: '/nonexistent' })).toThrow(ConfigError);
    expect(() => loadConfig({ env, cwd: '/nonexistent' })).toThrow(field);
  });

  it('names unknown and mistyped keys in the file', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
    writeFileSync(path.join(dir, 'tollgate.config.yaml'), 'prot: 9000\n');
    expect(() => loadConfig({ env: {}, cwd: dir })).toThrow(/prot/);
    writeFileSync(path.join(dir, 'tollgate.config.yaml'), 'port: [\n');
    expect(() => loadConfig({ env: {}, cwd: dir })).toThrow(/not valid YAML/);
  });
});
