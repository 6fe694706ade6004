/**
 * The seam where quota enforcement plugs in before every upstream call. The quotas domain supplies
 * the real gate (tg.gateway.setQuotaGate); until then every call is allowed.
 */
export interface QuotaContext {
  subject: string | null;
  team: string | null;
  project: string | null;
  api_key: string;
  route: string;
  model: string;
  feature: string | null;
}

export interface QuotaDecision {
  allowed: boolean;
  level: 'ok' | 'warning' | 'critical' | 'blocked';
  remaining_tokens?: number;
  recommended_action?: string;
}

export interface QuotaGate {
  check(ctx: QuotaContext): Promise<QuotaDecision> | QuotaDecision;
}

export const allowAll: QuotaGate = { check: () => ({ allowed: true, level: 'ok' }) };
