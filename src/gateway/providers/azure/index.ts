import { baseOf } from '../request.ts';
import { openaiStyleRequest } from '../openai/index.ts';
import type { ProviderFamily } from '../types.ts';

/**
 * Azure OpenAI: with `api_version` + `deployments`, `/deployments/<dep>/…?api-version=`; without
 * `api_version`, the OpenAI-compatible v1 endpoint. The key goes in the `api-key` header. Usage is
 * read as OpenAI's.
 */
export const azureProvider: ProviderFamily = {
  type: 'azure',
  serves: ['openai'],
  operations: ['chat', 'responses', 'embeddings'],
  env: [
    ['TOLLGATE_AZURE_OPENAI_BASE_URL', 'base_url'],
    ['AZURE_OPENAI_API_KEY', 'api_key'],
  ],
  credential: 'key',
  build(i) {
    const p = i.provider;
    const { basePath } = baseOf(p);
    const auth = (h: Record<string, string>, key: string) => (h['api-key'] = key);
    if (!p.api_version) return openaiStyleRequest(i, basePath + i.subpath, i.query, auth);
    const dep = p.deployments?.[i.model] ?? p.model_map?.[i.model] ?? i.model;
    const q = new URLSearchParams(i.query);
    q.set('api-version', p.api_version);
    return openaiStyleRequest(i, `${basePath}/deployments/${encodeURIComponent(dep)}${i.subpath}`, q.toString(), auth);
  },
};
