import { z } from 'zod';
import type { App } from '../../http/server.ts';
import { requireScope } from '../../http/auth.ts';
import { bindingOf } from '../../auth/binding.ts';
import { badRequest } from '../../shared/errors.ts';
import { Money } from '../../shared/money.ts';
import { formatInZone } from '../../shared/time.ts';
import { readable, type RegressionFit } from '../regression.ts';
import { correlate } from './correlation.ts';
import { llmCalculator, llmOut } from './calculator.ts';
import { decimal, errors, rangeOf, rangeShape, repeated, tags, window3, type AnalysisRouteDeps } from './common.ts';

const predictQuery = (defaultTz: string) =>
  z
    .object({
      ...rangeShape(defaultTz),
      x: repeated.optional(),
      y: z.string().default('traffic_gb'),
      window: window3,
      users: z.coerce.number().nonnegative().optional(),
      hours: z.coerce.number().nonnegative().optional(),
      days: z.coerce.number().nonnegative().optional(),
      unit_price: decimal.optional(),
      currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as KRW').default('USD'),
      margin: decimal.refine((v) => Number(v) >= 0 && Number(v) < 1, 'must be at least 0 and below 1').optional(),
      provider: z.string().optional(),
      model: repeated.optional(),
      requests: z.coerce.number().int().nonnegative().optional(),
      avg_input_tokens: z.coerce.number().nonnegative().optional(),
      avg_output_tokens: z.coerce.number().nonnegative().optional(),
      avg_cache_read_tokens: z.coerce.number().nonnegative().optional(),
    })
    .passthrough();
type PredictQuery = z.infer<ReturnType<typeof predictQuery>> & Record<string, unknown>;

const resourceOut = z.object({
  kind: z.literal('resource'),
  fit: z.object({ formula: z.string(), r2: z.number(), n: z.number(), window: z.string(), from: z.string(), to: z.string() }),
  /** The x meters' values of the scenario. */
  scenario: z.record(z.string(), z.number()),
  usage: z.object({ meter: z.string(), value: z.number() }),
  currency: z.string(),
  cost: z.string().nullable(),
  price_with_margin: z.string().nullable(),
  margin: z.string().nullable(),
  formula: z.string(),
});

/** Each x meter's scenario value: given directly (`<meter>=v`), or users × hours (× 60 for *_minutes) × days for a single x. */
function scenarioOf(q: PredictQuery, x: string[], steps: string[]): Record<string, number> {
  const scenario: Record<string, number> = {};
  for (const slug of x) {
    const direct = q[slug];
    if (direct !== undefined) scenario[slug] = Number(direct);
    else if (x.length === 1 && q.users !== undefined && q.hours !== undefined && q.days !== undefined) {
      const perMinute = slug.endsWith('_minutes') ? 60 : 1;
      scenario[slug] = q.users * q.hours * perMinute * q.days;
      steps.push(`${q.users} users × ${q.hours} h${perMinute === 60 ? ' × 60 min' : ''} × ${q.days} days = ${readable(scenario[slug]!)} ${slug}`);
    }
    if (!Number.isFinite(scenario[slug])) throw badRequest('INVALID_FIELD', `give ${slug}=<value> (or users, hours and days)`, slug);
  }
  return scenario;
}

/** y for the scenario from the fit; the intercept counts once per fitted window the scenario spans. */
function usageOf(q: PredictQuery, x: string[], fit: RegressionFit, scenario: Record<string, number>, steps: string[]): number {
  const windowsInScenario = q.days !== undefined ? (q.window === 'day' ? q.days : q.window === 'hour' ? q.days * 24 : q.days / 7) : 0;
  let usage = fit.intercept * windowsInScenario;
  for (const [j, slug] of x.entries()) usage += fit.coefficients[j]! * scenario[slug]!;
  const terms = x.map((slug, j) => `${readable(fit.coefficients[j]!)} × ${readable(scenario[slug]!)}`);
  if (windowsInScenario) terms.push(`${readable(fit.intercept)} × ${readable(windowsInScenario)} ${q.window}s`);
  steps.push(`${q.y} = ${terms.join(' + ')} = ${readable(usage)} ${q.y}`);
  return usage;
}

/** The resource side (seed 000): y fitted on x, the scenario through the fit, then unit price and margin. */
async function resourcePrediction(deps: AnalysisRouteDeps, q: PredictQuery, bind: ReturnType<typeof bindingOf>): Promise<z.infer<typeof resourceOut>> {
  const x = q.x?.length ? q.x : ['video_minutes'];
  const { from, to } = rangeOf(q, deps.clock.now(), 30);
  const { fit } = await correlate(deps, bind, { x, y: q.y, window: q.window, from, to, tz: q.tz });
  const steps: string[] = [];
  const scenario = scenarioOf(q, x, steps);
  const usage = usageOf(q, x, fit, scenario, steps);
  let cost: string | null = null;
  let price: string | null = null;
  if (q.unit_price !== undefined) {
    const c = new Money(usage.toPrecision(15)).times(q.unit_price);
    cost = c.toDecimalPlaces(2).toFixed(2);
    steps.push(`${readable(usage)} × ${q.unit_price} ${q.currency} = ${cost} ${q.currency}`);
    if (q.margin !== undefined) {
      price = c.div(new Money(1).minus(q.margin)).toDecimalPlaces(2).toFixed(2);
      steps.push(`${cost} ÷ (1 − ${q.margin}) = ${price} ${q.currency} (margin ${new Money(q.margin).times(100).toFixed()} % of the price)`);
    }
  }
  return {
    kind: 'resource',
    fit: { formula: fit.formula, r2: fit.r2, n: fit.n, window: q.window, from: formatInZone(q.tz, from), to: formatInZone(q.tz, to) },
    scenario,
    usage: { meter: q.y, value: usage },
    currency: q.currency,
    cost,
    price_with_margin: price,
    margin: q.margin ?? null,
    formula: steps.join('; '),
  };
}

/** GET /v1/analysis/predict: the calculator, LLM side (calculator.ts) or resource side. */
export function registerPredictRoute(app: App, deps: AnalysisRouteDeps) {
  app.get(
    '/v1/analysis/predict',
    {
      preHandler: requireScope(deps.keys, 'read'),
      schema: {
        tags,
        summary: 'Calculator: a scenario in, usage and cost out, with the formula used',
        description:
          'Resource side (seed 000): y (default traffic_gb) fitted on x over from/to, then the scenario: <x meter>=value, or users, hours, days (x = users × hours × 60 × days for *_minutes meters); ' +
          'unit_price (per y unit) in currency, margin (share of the price: price = cost ÷ (1 − margin)). ' +
          'LLM side: provider, model (repeat to compare), requests (a month), avg_input_tokens, avg_output_tokens [, avg_cache_read_tokens] × catalog price.',
        querystring: predictQuery(deps.defaultTz),
        response: { 200: z.discriminatedUnion('kind', [resourceOut, llmOut]), ...errors },
      },
    },
    async (req) => {
      const q = req.query as PredictQuery;
      if (q.provider || q.requests !== undefined) {
        if (!q.provider || !q.model?.length || q.requests === undefined) throw badRequest('INVALID_FIELD', 'the LLM calculator needs provider, model and requests', 'provider');
        return llmCalculator(deps.pricing, { ...q, provider: q.provider, models: q.model, requests: q.requests }, deps.clock.now());
      }
      return resourcePrediction(deps, q, bindingOf(req.principal));
    },
  );
}
