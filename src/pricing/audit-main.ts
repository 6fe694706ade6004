/**
 * `npm run audit:prices`: prints every disagreement between Tollgate's catalog and the bundled
 * snapshot of LiteLLM's table; exits 1 when one is not reviewed in docs/pricing.md.
 */
import { loadCatalog } from './catalog/index.ts';
import { createEngine } from './engine.ts';
import { auditReport, formatAudit } from './audit.ts';

export const AUDIT_FIXTURE = new URL('../../test/pricing/fixtures/litellm-prices-2026-07-24.json', import.meta.url);
export const AUDIT_DOCS = new URL('../../docs/pricing.md', import.meta.url);

const report = auditReport(createEngine({ catalog: loadCatalog() }), AUDIT_FIXTURE, AUDIT_DOCS);
process.stdout.write(formatAudit(report));
if (report.unreviewed.length || report.stale.length) {
  process.stdout.write('review each NEW line (fix the price, or add it with its reason to "Known differences" in docs/pricing.md) and drop each GONE one\n');
  process.exitCode = 1;
}
