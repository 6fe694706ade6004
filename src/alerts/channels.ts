import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import nodemailer, { type Transporter } from 'nodemailer';
import { guardedLookup, refusal, TargetRefused, type AllowList } from './netguard.ts';

/** Thin adapters that put one message on the wire; they throw a SendError on failure. */

export class SendError extends Error {
  constructor(
    message: string,
    readonly statusCode: number | null = null,
    /** A failure no retry can fix (a refused target, a 4xx other than 408/429). */
    readonly permanent = false,
  ) {
    super(message);
  }
}

export interface Mailer {
  send(m: { to: string[]; subject: string; text: string; html: string; headers?: Record<string, string> }): Promise<void>;
  close(): void;
}

export function smtpMailer(url: string, from: string): Mailer {
  let t: Transporter | undefined;
  return {
    async send(m) {
      t ??= nodemailer.createTransport(url);
      try {
        await t.sendMail({ from, to: m.to, subject: m.subject, text: m.text, html: m.html, headers: m.headers });
      } catch (e) {
        const code = (e as { responseCode?: number }).responseCode ?? null;
        throw new SendError(`SMTP: ${(e as Error).message}`, code, code !== null && code >= 500 && code < 600 && code !== 552);
      }
    },
    close() {
      t?.close();
    },
  };
}

export interface WebhookRequest {
  url: string;
  body: string;
  headers: Record<string, string>;
  allow: AllowList;
  timeoutMs: number;
}

/**
 * POSTs JSON. The connection goes to the address guardedLookup checked (DNS rebinding cannot swap
 * it); an IP literal, which Node connects to without a lookup, is checked here.
 */
export function postWebhook(r: WebhookRequest): Promise<{ status: number }> {
  const u = new URL(r.url);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) {
    const why = refusal(host, host, r.allow);
    if (why) return Promise.reject(new SendError(why, null, true));
  }
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      u,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(r.body)), 'user-agent': 'tollgate-alerts', ...r.headers },
        lookup: guardedLookup(r.allow) as never,
        timeout: r.timeoutMs,
        agent: false,
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve({ status });
          else reject(new SendError(`webhook answered HTTP ${status}`, status, status >= 400 && status < 500 && status !== 408 && status !== 429));
        });
        res.on('error', (e) => reject(new SendError(`webhook response: ${e.message}`)));
      },
    );
    req.on('timeout', () => req.destroy(new SendError(`webhook timed out after ${r.timeoutMs} ms`)));
    req.on('error', (e) => {
      if (e instanceof SendError) return reject(e);
      if (e instanceof TargetRefused) return reject(new SendError(e.message, null, true));
      reject(new SendError(`webhook: ${e.message}`));
    });
    req.end(r.body);
  });
}
