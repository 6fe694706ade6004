import { rng } from './random.ts';

/** 15 models over 5 providers, with how likely a call picks each and its typical shape. */
export const DEMO_MODELS = [
  { provider: 'openai', model: 'gpt-4o', w: 14, inMed: 1800, outMed: 450, cache: 0.35 },
  { provider: 'openai', model: 'gpt-4o-mini', w: 22, inMed: 900, outMed: 250, cache: 0.3 },
  { provider: 'openai', model: 'gpt-4.1', w: 8, inMed: 2600, outMed: 600, cache: 0.4 },
  { provider: 'openai', model: 'gpt-4.1-mini', w: 10, inMed: 1200, outMed: 300, cache: 0.3 },
  { provider: 'openai', model: 'o3-mini', w: 4, inMed: 1500, outMed: 1400, cache: 0.1, reasoning: 0.7 },
  { provider: 'anthropic', model: 'claude-sonnet-4-5', w: 12, inMed: 3000, outMed: 700, cache: 0.55, write: 0.08 },
  { provider: 'anthropic', model: 'claude-3-5-haiku-20241022', w: 8, inMed: 1100, outMed: 300, cache: 0.4, write: 0.05 },
  { provider: 'anthropic', model: 'claude-opus-4-1', w: 2, inMed: 4000, outMed: 900, cache: 0.5, write: 0.1 },
  { provider: 'google', model: 'gemini-2.5-pro', w: 5, inMed: 3500, outMed: 800, cache: 0.2 },
  { provider: 'google', model: 'gemini-2.5-flash', w: 9, inMed: 1400, outMed: 350, cache: 0.2 },
  { provider: 'google', model: 'gemini-2.0-flash', w: 5, inMed: 1000, outMed: 250, cache: 0.1 },
  { provider: 'mistral', model: 'mistral-large-latest', w: 3, inMed: 1600, outMed: 400, cache: 0 },
  { provider: 'mistral', model: 'mistral-small-latest', w: 4, inMed: 800, outMed: 200, cache: 0 },
  { provider: 'deepseek', model: 'deepseek-chat', w: 5, inMed: 1500, outMed: 400, cache: 0.45 },
  { provider: 'deepseek', model: 'deepseek-reasoner', w: 2, inMed: 1200, outMed: 1600, cache: 0.3, reasoning: 0.6 },
] as const;
export type DemoModel = (typeof DEMO_MODELS)[number];

export const DEMO_TEAMS = [
  { team: 'search', features: ['query-rewrite', 'rerank', 'answer'], prefer: 'openai' },
  { team: 'support', features: ['reply-draft', 'triage', 'summarise'], prefer: 'anthropic' },
  { team: 'growth', features: ['copywriting', 'ab-variants'], prefer: 'openai' },
  { team: 'research', features: ['eval', 'agent', 'long-context'], prefer: 'anthropic' },
  { team: 'mobile', features: ['assistant', 'autocomplete'], prefer: 'google' },
  { team: 'platform', features: ['code-review', 'log-summary'], prefer: 'deepseek' },
] as const;
export type DemoTeam = (typeof DEMO_TEAMS)[number];

/** A team's model choice: its preferred provider's models weigh 2.5 times their usual weight. */
export const teamModelWeights = (t: DemoTeam): ReadonlyArray<readonly [DemoModel, number]> =>
  DEMO_MODELS.map((x) => [x, x.provider === t.prefer ? x.w * 2.5 : x.w] as const);

export interface DemoUser {
  subject: string;
  team: string;
  project: string;
  /** Median calls per active weekday. */
  rate: number;
}

export function demoUsers(o: { users: number; seed: number }): DemoUser[] {
  const r = rng(o.seed ^ 0x5eed);
  return Array.from({ length: o.users }, (_, i) => {
    const t = DEMO_TEAMS[i % DEMO_TEAMS.length]!;
    return { subject: `user-${String(i + 1).padStart(3, '0')}`, team: t.team, project: `${t.team}-${r.pick(['web', 'api', 'batch'])}`, rate: Math.min(40, r.logn(3.2, 0.8)) };
  });
}

export const DAY = 86_400_000;
/** Hour-of-day weights (UTC): a working day around 00–12 UTC (Asia, Europe mornings) with a tail. */
export const HOURS = Array.from({ length: 24 }, (_, h) => [h, h >= 0 && h <= 10 ? 3 : h <= 14 ? 1.5 : 0.5] as const);
