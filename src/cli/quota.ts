import type { Command } from 'commander';
import { fail } from './common.ts';
import { createQuotaClient, TollgateError } from '../client/quota.ts';

/**
 * `tollgate quota show | grant | void | check`: over the HTTP API of a running server (so every
 * process's caches and the reservation room stay the server's business, and a PGlite server's
 * locked data dir is no obstacle). --url / TOLLGATE_URL, --key / TOLLGATE_API_KEY.
 */
interface Conn {
  url: string;
  key?: string;
  json?: boolean;
}

const keyOf = (o: Conn, scope: string) => o.key ?? process.env.TOLLGATE_API_KEY ?? fail(`--key (or TOLLGATE_API_KEY) is required: an API key with the ${scope} scope`, 2);

async function api(o: Conn, scope: string, method: string, path: string, body?: unknown): Promise<any> {
  const base = o.url.replace(/\/+$/, '');
  let res: Response;
  try {
    res = await fetch(base + path, {
      method,
      headers: { authorization: `Bearer ${keyOf(o, scope)}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (e) {
    fail(`cannot reach Tollgate at ${base} (${(e as any)?.cause?.code ?? (e as Error).message}): is \`tollgate serve\` running there? (--url or TOLLGATE_URL)`);
  }
  const json: any = await res.json().catch(() => undefined);
  if (!res.ok) fail(`${res.status} ${json?.error?.code ?? ''}: ${json?.error?.message ?? res.statusText}${json?.error?.param ? ` (${json.error.param})` : ''}`);
  return json;
}

const out = (o: Conn, v: unknown, text: () => string) => process.stdout.write(o.json ? JSON.stringify(v, null, 2) + '\n' : text());

function valueText(v: any): string {
  const lines = [
    `${v.id}  ${v.meter}  level ${v.level}`,
    `  usage ${v.usage} of ${v.available} available (${v.percent === null ? '–' : (Number(v.percent) * 100).toFixed(2) + ' %'}), balance ${v.balance}, reserved ${v.reserved}`,
    `  estimated turns ${v.estimated_turns ?? '–'}, period ${v.period_start} → resets ${v.resets_at}${v.purchase_url ? `, buy: ${v.purchase_url}` : ''}`,
  ];
  for (const g of v.grants) lines.push(`  grant ${g.id}  ${g.kind.padEnd(11)} priority ${g.priority}  amount ${g.amount}  used ${g.used}  balance ${g.balance}${g.active ? '' : '  (inactive)'}`);
  return lines.join('\n') + '\n';
}

const conn = (c: Command, scope: string) =>
  c
    .option('-u, --url <url>', 'Tollgate server URL (env TOLLGATE_URL)', process.env.TOLLGATE_URL ?? 'http://127.0.0.1:8787')
    .option('-k, --key <key>', `API key with the ${scope} scope (env TOLLGATE_API_KEY)`)
    .option('--json', 'print the API answer as JSON');

const targetOpts = (c: Command) =>
  c.option('--subject <subject>', 'an end user').option('--team <team>', 'a team').option('--api-key <id>', 'an API key id').option('-m, --meter <slug>', 'meter (llm_tokens, llm_cost, …)', 'llm_tokens');

export function quotaCommand(program: Command) {
  const quota = program.command('quota').description('entitlements, grants and checks (the API: /v1/entitlements*, /v1/check)');

  targetOpts(conn(quota.command('show [entitlement]'), 'read'))
    .description("an entitlement's value (usage, available, balance, level, estimated turns, resets, grants); or every entitlement of --subject/--team/--api-key")
    .action(async (id: string | undefined, o: Conn & { subject?: string; team?: string; apiKey?: string; meter: string }) => {
      let ids: string[];
      if (id) ids = [id];
      else {
        if (!o.subject && !o.team && !o.apiKey) fail('name an entitlement id, or --subject, --team or --api-key', 2);
        const q = new URLSearchParams();
        if (o.subject) q.set('subject', o.subject);
        if (o.team) q.set('team', o.team);
        if (o.apiKey) q.set('api_key', o.apiKey);
        ids = (await api(o, 'read', 'GET', `/v1/entitlements?${q}`)).data.map((e: any) => e.id);
        if (!ids.length) return void out(o, [], () => 'no entitlements\n');
      }
      const values: any[] = [];
      for (const x of ids) values.push(await api(o, 'read', 'GET', `/v1/entitlements/${encodeURIComponent(x)}/value`));
      out(o, id ? values[0] : values, () => values.map(valueText).join(''));
    });

  conn(quota.command('grant <entitlement>'), 'admin')
    .description('grant an amount to an entitlement (grants are never edited: void and grant again)')
    .requiredOption('-a, --amount <decimal>', 'amount in the meter\'s unit (tokens, USD, …)')
    .option('--kind <kind>', 'free | purchased | promotional', 'purchased')
    .option('-p, --priority <n>', 'burn-down priority, lower first (purchased 1, free 10 in seed 003)')
    .option('--effective-at <rfc3339>', 'from when (default now)')
    .option('--expires-at <rfc3339>', 'until when (default never)')
    .option('--recurring <period>', 'refill to the amount at each day | week | month start in the entitlement\'s zone')
    .action(async (id: string, o: Conn & { amount: string; kind: string; priority?: string; effectiveAt?: string; expiresAt?: string; recurring?: string }) => {
      if (!['free', 'purchased', 'promotional'].includes(o.kind)) fail('--kind: choose free, purchased or promotional', 2);
      if (o.priority !== undefined && !/^\d+$/.test(o.priority)) fail('--priority: a whole number', 2);
      const body: Record<string, unknown> = { amount: o.amount, kind: o.kind, priority: o.priority !== undefined ? Number(o.priority) : o.kind === 'purchased' ? 1 : 10 };
      if (o.effectiveAt) body.effective_at = o.effectiveAt;
      if (o.expiresAt) body.expires_at = o.expiresAt;
      if (o.recurring) body.recurring = o.recurring;
      const g = await api(o, 'admin', 'POST', `/v1/entitlements/${encodeURIComponent(id)}/grants`, body);
      out(o, g, () => `granted ${g.id}: ${g.amount} ${g.kind}, priority ${g.priority}, effective ${g.effective_at}${g.expires_at ? `, expires ${g.expires_at}` : ''}${g.recurring ? `, refills every ${g.recurring}` : ''}\n`);
    });

  conn(quota.command('void <entitlement> <grant>'), 'admin')
    .description('void a grant from now on (what it already covered stays covered)')
    .action(async (id: string, gid: string, o: Conn) => {
      const g = await api(o, 'admin', 'POST', `/v1/entitlements/${encodeURIComponent(id)}/grants/${encodeURIComponent(gid)}/void`);
      out(o, g, () => `voided ${g.id} at ${g.voided_at}\n`);
    });

  targetOpts(conn(quota.command('check'), 'gateway'))
    .description('may this subject/team/key use --amount more? Exit code 0 allowed, 3 refused (advisory: nothing is held)')
    .option('-a, --amount <decimal>', 'the amount about to be used')
    .action(async (o: Conn & { subject?: string; team?: string; apiKey?: string; meter: string; amount?: string }) => {
      const client = createQuotaClient({ baseUrl: o.url, apiKey: keyOf(o, 'gateway') });
      let c;
      try {
        c = await client.check({ subject: o.subject, team: o.team, api_key: o.apiKey, meter: o.meter, amount: o.amount });
      } catch (e) {
        if (e instanceof TollgateError) fail(e.status ? `${e.status} ${e.code}: ${e.message}${e.param ? ` (${e.param})` : ''}` : `${e.message} (--url or TOLLGATE_URL)`);
        throw e;
      }
      out(o, c, () =>
        c.entitlement_id === null
          ? 'allowed: no entitlement applies\n'
          : `${c.allowed ? 'allowed' : 'refused'}  level ${c.level}  remaining ${c.remaining}  balance ${c.balance}  percent ${c.percent ?? '–'}  estimated turns ${c.estimated_turns ?? '–'}  resets ${c.resets_at}${c.purchase_url && c.level !== 'ok' ? `  buy: ${c.purchase_url}` : ''}\n`,
      );
      if (!c.allowed) process.exitCode = 3;
    });
}
