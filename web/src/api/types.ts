/**
 * Shapes of routes whose OpenAPI entry has no response schema yet (the server's documents and
 * code are the reference: DESIGN.md "Usage queries", src/rollups, src/analysis/summary.ts,
 * src/pricing/routes.ts). Everything else is typed from schema.gen.ts.
 */
export interface Measures {
  requests: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  reasoning_tokens: number;
  cost: string;
}
export type UsageRow = Measures & { window_start?: string; window_end?: string } & Record<string, unknown>;
export interface UsageResponse {
  rows: UsageRow[];
  totals: Measures;
}
export interface TopResponse {
  rows: Array<Record<string, unknown> & Measures & { rank?: number; value?: string | number }>;
}
export interface SummaryWindow extends Measures {
  from: string;
  to: string;
}
export interface SummaryResponse {
  currency: string;
  tz: string;
  as_of: string;
  yesterday: SummaryWindow;
  this_week: SummaryWindow;
  month_to_date: SummaryWindow;
  forecast_month_end: string;
  forecast?: { method: string; low: string; high: string; interval: number; history_days: number };
  by_provider: Array<Record<string, unknown>>;
}
export interface SessionInfo {
  key_id: string;
  name: string;
  scopes: string[];
  subject: string | null;
  team: string | null;
  project: string | null;
  read_only: boolean;
  tz: string;
  features: Record<string, boolean>;
}
export interface TopSeriesResponse {
  by: string;
  measure: string;
  windows: Array<{ window_start: string; window_end: string }>;
  series: Array<Record<string, unknown> & { totals: Measures; points: Array<Measures & { window_start: string; window_end: string }> }>;
}
