import { createHmac, timingSafeEqual } from 'node:crypto';
import { Decimal } from 'decimal.js';
import type { Firing } from './types.ts';

/** Rendering of a firing for each channel: e-mail (text + HTML), webhook JSON and its signature. */

/** 1234567.5 → "1,234,567.5" on the decimal string itself (no float on the way). */
export function groupDigits(v: string): string {
  const m = /^(-?)(\d+)(\.\d+)?$/.exec(v);
  if (!m) return v;
  return m[1] + m[2]!.replace(/\B(?=(\d{3})+(?!\d))/g, ',') + (m[3] ?? '');
}

/** "0.905" → "90.5 %" (decimal, at most two places). */
export function percentText(fraction: string): string {
  try {
    return `${new Decimal(fraction).times(100).toDecimalPlaces(2).toString()} %`;
  } catch {
    return fraction;
  }
}

export function dashboardLink(base: string, f: Pick<Firing, 'id'>): string {
  return `${base.replace(/\/+$/, '')}/alerts?firing=${encodeURIComponent(f.id)}`;
}

/** The rows every channel shows, in order: label → text. */
export function factRows(f: Firing): Array<[string, string]> {
  const d = f.details;
  const unit = typeof d.meter === 'string' ? ` ${d.meter}` : '';
  const rows: Array<[string, string]> = [['Rule', `${f.rule_name} (${f.type})`]];
  if (f.subject) rows.push(['Subject', f.subject]);
  if (f.team) rows.push(['Team', f.team]);
  if (f.level) rows.push(['Level', f.level]);
  if (f.value !== null) rows.push(['Value', `${groupDigits(f.value)}${unit}${typeof d.percent === 'string' ? ` (${percentText(d.percent)})` : ''}`]);
  if (f.threshold !== null) rows.push(['Threshold', `${groupDigits(f.threshold)}${unit}`]);
  if (typeof d.available === 'string') rows.push(['Available this period', `${groupDigits(d.available)}${unit}`]);
  if (typeof d.projected_at === 'string') rows.push(['Projected to cross', d.projected_at]);
  if (typeof d.projected_total === 'string') rows.push(['Projected period total', `${groupDigits(d.projected_total)}${unit}`]);
  if (typeof d.resets_at === 'string') rows.push(['Resets', d.resets_at]);
  if (typeof d.error === 'string') rows.push(['Error', d.error]);
  rows.push(['When', f.occurred_at]);
  return rows;
}

export interface EmailMessage {
  subject: string;
  text: string;
  html: string;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function renderEmail(f: Firing, dashboardBase: string): EmailMessage {
  const link = dashboardLink(dashboardBase, f);
  const purchase = typeof f.details.purchase_url === 'string' ? f.details.purchase_url : null;
  const rows = factRows(f);
  const subject = `${f.test ? '[Tollgate test] ' : '[Tollgate] '}${f.title}`;
  const text = [
    f.title,
    '',
    ...rows.map(([k, v]) => `${k}: ${v}`),
    ...(purchase ? ['', `Buy more: ${purchase}`] : []),
    '',
    `Dashboard: ${link}`,
    `Firing id: ${f.id}`,
    ...(f.test ? ['', 'This is a test message sent from the rule\'s "test" action.'] : []),
  ].join('\n');
  const html = `<!doctype html><html><body style="font-family:system-ui,sans-serif;color:#111">
<h2 style="margin:0 0 12px">${esc(f.title)}</h2>
<table cellpadding="4" style="border-collapse:collapse">
${rows.map(([k, v]) => `<tr><th align="left" style="color:#555;font-weight:normal">${esc(k)}</th><td><strong>${esc(v)}</strong></td></tr>`).join('\n')}
</table>
${purchase ? `<p><a href="${esc(purchase)}">Buy more</a></p>` : ''}
<p><a href="${esc(link)}">Open in the Tollgate dashboard</a></p>
<p style="color:#888;font-size:12px">Firing ${esc(f.id)}${f.test ? ' · test message' : ''}</p>
</body></html>`;
  return { subject, text, html };
}

/** The webhook body: the contract's fields first, then the firing's details. */
export function webhookBody(f: Firing, dashboardBase: string): Record<string, unknown> {
  return {
    ...f.details,
    id: f.id,
    rule: { id: f.rule_id, name: f.rule_name },
    type: f.type,
    ...(f.subject !== null ? { subject: f.subject } : {}),
    ...(f.team !== null ? { team: f.team } : {}),
    ...(f.level !== null ? { level: f.level } : {}),
    value: f.value,
    threshold: f.threshold,
    occurred_at: f.occurred_at,
    title: f.title,
    test: f.test,
    dashboard_url: dashboardLink(dashboardBase, f),
  };
}

/** `t=<unix>,v1=<hex hmac-sha256(secret, "<t>.<body>")>` */
export function signatureHeader(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/** For receivers (and tests): is the header a valid signature of body, within toleranceS of nowS? */
export function verifySignature(secret: string, body: string, header: string, nowS: number, toleranceS = 300): boolean {
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=') as [string, string]));
  const t = Number(parts.t);
  if (!Number.isFinite(t) || !parts.v1 || Math.abs(nowS - t) > toleranceS) return false;
  const want = Buffer.from(createHmac('sha256', secret).update(`${t}.${body}`).digest('hex'));
  const got = Buffer.from(parts.v1);
  return want.length === got.length && timingSafeEqual(want, got);
}
