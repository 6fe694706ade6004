import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { testApp, type TestApp } from '../helpers/app.ts';
import { startAnthropic, startBedrock, startGoogle, startOpenAI, type Upstream } from './upstream/server.ts';

export const AWS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

export interface GatewayEnv {
  app: TestApp;
  base: string;
  openai: Upstream;
  anthropic: Upstream;
  bedrock: Upstream & { badSignatures: number };
  google: Upstream;
  /** A gateway key bound to team t1. */
  key: string;
  keyId: string;
  events(): Promise<any[]>;
  close(): Promise<void>;
}

/** Local upstreams + a listening Tollgate whose gateway points at them, credentials in the secret store. */
export async function gatewayEnv(extra: Record<string, unknown> = {}): Promise<GatewayEnv> {
  const [openai, anthropic, bedrock, google] = await Promise.all([startOpenAI(), startAnthropic(), startBedrock(AWS), startGoogle()]);
  const app = await testApp({
    config: {
      'secrets.master_key': randomBytes(32).toString('base64'),
      'gateway.flush_interval_ms': 5,
      'gateway.providers': {
        openai: { base_url: `${openai.url}/v1`, credential: 'openai-key' },
        anthropic: { base_url: anthropic.url, credential: 'anthropic-key' },
        bedrock: { base_url: bedrock.url, region: 'us-east-1', credential: 'aws', model_map: { 'claude-sonnet-4-5': 'anthropic.claude-sonnet-4-5-20250929-v1:0' } },
        azure: { type: 'azure', base_url: `${openai.url}/openai`, api_version: '2024-10-21', deployments: { 'gpt-4o': 'prod-4o' }, credential: 'azure-key' },
        down: { type: 'openai', base_url: 'http://127.0.0.1:9/v1', api_key: 'sk-none' },
        slow: { type: 'anthropic', base_url: anthropic.url, api_key: 'sk-slow', timeout_ms: 150 },
        uncredentialed: { type: 'bedrock', base_url: bedrock.url, region: 'us-east-1' },
        google: { base_url: google.url, credential: 'google-key' },
        gemini_openai: { type: 'openai', base_url: `${google.url}/v1beta/openai`, credential: 'google-key' },
        google_backup: { type: 'google', base_url: google.url, api_key: 'backup-gemini-key' },
      },
      'gateway.routes': {
        claude: { api: 'anthropic', targets: ['anthropic', 'bedrock'], feature: 'chat-ui' },
        hedge: { api: 'anthropic', targets: ['slow', 'bedrock'] },
        resilient: { api: 'openai', targets: ['down', 'openai'] },
        azure: { api: 'openai', targets: ['azure'] },
        uncredentialed: { api: 'anthropic', targets: ['uncredentialed'] },
        gemini: { api: 'google', targets: ['google', 'google_backup'] },
        geminioa: { api: 'openai', targets: ['gemini_openai'] },
      },
      ...extra,
    },
  });
  for (const [name, value] of [['openai-key', 'sk-upstream-openai'], ['anthropic-key', 'sk-ant-upstream'], ['azure-key', 'azure-upstream-key'], ['aws', JSON.stringify({ access_key_id: AWS.accessKeyId, secret_access_key: AWS.secretAccessKey })], ['google-key', 'AIza-upstream-gemini']]) {
    const r = await app.request('PUT', `/v1/secrets/${name}`, { body: { value } });
    if (r.status !== 200) throw new Error(JSON.stringify(r.body));
  }
  await app.tg.server.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.tg.server.server.address() as AddressInfo).port}`;
  const created = await app.request('POST', '/v1/keys', { body: { name: 'gw', scopes: ['gateway'], team: 't1' } });
  return {
    app,
    base,
    openai,
    anthropic,
    bedrock,
    google,
    key: created.body.key,
    keyId: created.body.id,
    async events() {
      await app.tg.gateway.flush();
      const r = await app.db.query(`SELECT * FROM events WHERE source = 'tollgate-gateway' ORDER BY seq`);
      return r.rows.map((row: any) => ({
        ...row,
        input_tokens: Number(row.input_tokens),
        output_tokens: Number(row.output_tokens),
        cache_read_tokens: Number(row.cache_read_tokens),
        cache_write_tokens: Number(row.cache_write_tokens),
        reasoning_tokens: Number(row.reasoning_tokens),
        data: typeof row.data === 'string' ? JSON.parse(row.data) : row.data,
      }));
    },
    async close() {
      await app.close();
      await Promise.all([openai.close(), anthropic.close(), bedrock.close(), google.close()]);
    },
  };
}

/** Waits until fn() is truthy (events are written asynchronously). */
export async function until<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v as T;
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}
