import type { App } from '../../http/server.ts';
import type { AnalysisRouteDeps } from './common.ts';
import { registerSummaryRoute } from './summary.ts';
import { registerCorrelationRoute } from './correlation.ts';
import { registerPredictRoute } from './predict.ts';
import { registerForecastRoute } from './forecast.ts';
import { registerAnomalyRoutes } from './anomalies.ts';
import { registerTrendsRoute } from './trends.ts';
import { registerSuggestionsRoute } from './suggestions.ts';
import { registerEfficiencyRoute } from './efficiency.ts';

export type { AnalysisRouteDeps } from './common.ts';

/** `/v1/summary` and every `/v1/analysis/*` route, one file per resource. */
export function registerAnalysisRoutes(app: App, deps: AnalysisRouteDeps) {
  registerSummaryRoute(app, deps);
  registerCorrelationRoute(app, deps);
  registerPredictRoute(app, deps);
  registerForecastRoute(app, deps);
  registerAnomalyRoutes(app, deps);
  registerTrendsRoute(app, deps);
  registerSuggestionsRoute(app, deps);
  registerEfficiencyRoute(app, deps);
}
