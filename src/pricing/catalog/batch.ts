/**
 * Default batch discounts (fraction off the list price) for events with `data.batch === true`,
 * per Tollgate provider id. From the providers' batch API pages as of 2026-11-22: OpenAI Batch
 * API, Azure OpenAI Global Batch, Anthropic Message Batches, Gemini Batch Mode, Bedrock batch
 * inference and Mistral batch all bill 50 % of the on-demand price. A provider missing here has no
 * batch discount; override with pricing.batch_discounts in the config file.
 */
export const DEFAULT_BATCH_DISCOUNTS: Record<string, string> = {
  openai: '0.5',
  azure: '0.5',
  anthropic: '0.5',
  google: '0.5',
  bedrock: '0.5',
  mistral: '0.5',
};
