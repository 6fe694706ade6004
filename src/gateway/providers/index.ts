import { openaiProvider } from './openai/index.ts';
import { azureProvider } from './azure/index.ts';
import { anthropicProvider } from './anthropic/index.ts';
import { bedrockProvider } from './bedrock/index.ts';
import { googleProvider } from './google/index.ts';
import type { ApiName, ApiSpec, ProviderFamily } from './types.ts';

/**
 * The provider registry. Each family is one folder exporting one object (providers/types.ts):
 * endpoints, auth/signing, stream format, operations served, usage readers. The config's provider
 * `type` enum, the environment mappings, the default providers and routes, and the client APIs
 * mounted are all derived from this list: adding a provider touches its folder and this line.
 */
export const PROVIDERS = [openaiProvider, azureProvider, anthropicProvider, bedrockProvider, googleProvider] as const satisfies readonly ProviderFamily[];

export type ProviderType = (typeof PROVIDERS)[number]['type'];
export const PROVIDER_TYPES = PROVIDERS.map((p) => p.type) as [ProviderType, ...ProviderType[]];

const byType = new Map<string, ProviderFamily>(PROVIDERS.map((p) => [p.type, p]));
export const familyOf = (type: string): ProviderFamily | undefined => byType.get(type);

/** The client APIs, each defined by one family (the route and provider of the same name exist by default). */
export const APIS: ApiSpec[] = PROVIDERS.flatMap((p) => ('api' in p && p.api ? [p.api] : []));
export const API_NAMES = APIS.map((a) => a.name) as [ApiName, ...ApiName[]];
export const apiOf = (name: string): ApiSpec | undefined => APIS.find((a) => a.name === name);

/** `TOLLGATE_<X>_BASE_URL`, `<X>_API_KEY`, …: each family's env mapped onto the provider named like its type. */
export const PROVIDER_ENV: Array<[string, string[]]> = PROVIDERS.flatMap((p) => (p.env ?? []).map(([env, field]): [string, string[]] => [env, ['gateway', 'providers', p.type, field]]));

export type { ApiName, ApiSpec, ProviderFamily } from './types.ts';
