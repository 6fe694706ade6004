import type { EventRow } from './types.ts';
import type { ValidEvent } from './validate.ts';

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const int = (v: unknown): number | null => (typeof v === 'number' ? v : null);

/** Lifts the llm.usage fields out of data into their columns; other types keep only the envelope. */
export function toEventRow(e: ValidEvent): EventRow {
  const d = e.data;
  const llm = e.type === 'llm.usage';
  let cacheWrite: number | null = null;
  if (llm) {
    cacheWrite = int(d.cache_write_tokens);
    if (cacheWrite === null && (d.cache_write_5m_tokens !== undefined || d.cache_write_1h_tokens !== undefined)) {
      cacheWrite = (int(d.cache_write_5m_tokens) ?? 0) + (int(d.cache_write_1h_tokens) ?? 0);
    }
  }
  const reportedCost = llm && (typeof d.cost === 'string' || typeof d.cost === 'number') ? String(d.cost) : null;
  return {
    source: e.source,
    id: e.id,
    type: e.type,
    subject: e.subject,
    time: e.time,
    data: d,
    provider: llm ? str(d.provider) : null,
    model: llm ? str(d.model) : null,
    region: llm ? str(d.region) : null,
    team: str(d.team),
    project: str(d.project),
    api_key: llm ? str(d.api_key) : null,
    feature: llm ? str(d.feature) : null,
    input_tokens: llm ? int(d.input_tokens) : null,
    output_tokens: llm ? int(d.output_tokens) : null,
    cache_read_tokens: llm ? (int(d.cache_read_tokens) ?? 0) : null,
    cache_write_tokens: llm ? (cacheWrite ?? 0) : null,
    reasoning_tokens: llm ? (int(d.reasoning_tokens) ?? 0) : null,
    cost: reportedCost,
    cost_source: reportedCost !== null ? 'provider' : null,
    computed_cost: null,
    price: null,
    // Until a pricing hook prices it, an llm.usage event without a reported cost is unpriced: never silently free.
    unpriced: llm && reportedCost === null,
    estimated: llm && d.estimated === true,
  };
}
