/**
 * `tollgate/client`: for apps that call providers themselves. An ingest client (batching, retries,
 * flush on exit) and wrappers that record each call of an `openai`, `@anthropic-ai/sdk` or
 * `@google/genai` client as the same llm.usage event the gateway would record.
 */
export { createIngestClient, type IngestClient, type IngestClientOptions, type IngestEvent } from './ingest.ts';
export { wrapOpenAI, wrapAnthropic, type WrapOptions } from './wrap.ts';
export { wrapGemini } from './gemini.ts';
export { createQuotaClient, TollgateError, QuotaExceededError, type QuotaClient, type QuotaClientOptions, type QuotaTarget, type QuotaCheck, type QuotaReservation } from './quota.ts';
