import type { Command } from 'commander';
import { createReadStream, existsSync, readFileSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import cliProgress from 'cli-progress';
import pRetry from 'p-retry';
import { CliError, fail } from './common.ts';

interface Checkpoint {
  file: string;
  size: number;
  line: number;
  accepted: number;
  duplicates: number;
  rejected: number;
}

interface Options {
  url: string;
  key?: string;
  batchSize: string;
  restart?: boolean;
  progress: boolean;
}

type BatchResult = { accepted: number; duplicates: number; rejected: Array<{ index: number; error: string }> };

/**
 * One batch, retried (p-retry, 250 ms doubling) while the server is unreachable (4 tries) or answers
 * 429/5xx (7 tries); any other answer is final: a one-line failure saying what to do.
 */
async function postBatch(url: string, key: string, events: unknown[]): Promise<BatchResult> {
  let unreachable = 0;
  return pRetry(
    async () => {
      let res: Response;
      try {
        res = await fetch(`${url.replace(/\/$/, '')}/v1/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/cloudevents-batch+json', authorization: `Bearer ${key}` },
          body: JSON.stringify(events),
        });
      } catch (e) {
        const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
        if (++unreachable > 3) fail(`cannot reach Tollgate at ${url} (${cause}): is \`tollgate serve\` running there? (--url or TOLLGATE_URL)`);
        throw e;
      }
      const body = (await res.json().catch(() => ({}))) as any;
      if (res.status === 202) return body as BatchResult;
      // Every event of the batch was rejected: not a transport failure, the counts are in the error.
      if (res.status === 400 && body?.error?.code === 'ALL_REJECTED') return { accepted: 0, duplicates: 0, rejected: body.error.rejected };
      const what = `the server answered ${res.status}${body?.error?.code ? ` ${body.error.code}` : ''}: ${body?.error?.message ?? JSON.stringify(body).slice(0, 300)}`;
      if (res.status >= 500 || res.status === 429) throw new Error(what);
      if (res.status === 401 || res.status === 403) fail(`the server refused the key (${res.status} ${body?.error?.code ?? ''}): ${body?.error?.message ?? ''} — pass a key with the ingest scope (--key or TOLLGATE_API_KEY)`);
      fail(what);
    },
    { retries: 6, minTimeout: 250, factor: 2, randomize: false, shouldRetry: ({ error }) => !(error instanceof CliError) },
  ).catch((e: Error) => (e instanceof CliError ? Promise.reject(e) : fail(e.message)));
}

/**
 * Bulk import through the HTTP API (so it works against a running server, PGlite included).
 * Progress is checkpointed after every acknowledged batch; a re-run resumes after the last one,
 * and (source, id) dedup makes any overlap harmless.
 */
export function ingestCommand(program: Command) {
  program
    .command('ingest <file>')
    .description('import CloudEvents from an NDJSON file (or - for stdin) in batches, resumably')
    .option('-u, --url <url>', 'Tollgate server URL (env TOLLGATE_URL)', process.env.TOLLGATE_URL ?? 'http://127.0.0.1:8787')
    .option('-k, --key <key>', 'API key with the ingest scope (env TOLLGATE_API_KEY)')
    .option('-b, --batch-size <n>', 'events per request', '1000')
    .option('--restart', 'ignore a saved checkpoint and start from the first line')
    .option('--no-progress', 'do not draw a progress bar')
    .action(async (file: string, o: Options) => {
      const key = o.key ?? process.env.TOLLGATE_API_KEY;
      if (!key) fail('--key (or TOLLGATE_API_KEY) is required: an API key with the ingest scope', 2);
      const batchSize = Number(o.batchSize);
      if (!Number.isInteger(batchSize) || batchSize < 1) fail('--batch-size must be a positive integer', 2);
      const stdin = file === '-';
      if (!stdin && !existsSync(file)) fail(`${file}: no such file`, 2);
      const size = stdin ? 0 : statSync(file).size;
      const cpPath = `${file}.tollgate-progress`;
      let cp: Checkpoint = { file, size, line: 0, accepted: 0, duplicates: 0, rejected: 0 };
      if (!stdin && !o.restart && existsSync(cpPath)) {
        const saved = JSON.parse(readFileSync(cpPath, 'utf8')) as Checkpoint;
        if (saved.size === size) {
          cp = saved;
          process.stderr.write(`resuming after line ${cp.line} (checkpoint ${cpPath}; --restart to start over)\n`);
        }
      }
      const bar = o.progress
        ? new cliProgress.SingleBar(
            {
              format: stdin
                ? 'ingest | {events} events | accepted {accepted} dup {duplicates} rejected {rejected}'
                : 'ingest [{bar}] {percentage}% | {events} events | accepted {accepted} dup {duplicates} rejected {rejected} | eta {eta_formatted}',
              stream: process.stderr,
            },
            cliProgress.Presets.shades_classic,
          )
        : undefined;
      bar?.start(stdin ? 0 : size, 0, { events: 0, ...cp });
      const lines = createInterface({ input: stdin ? process.stdin : createReadStream(file), crlfDelay: Infinity });
      let lineNo = 0;
      let bytes = 0;
      let batch: unknown[] = [];
      let batchLines: number[] = [];
      const errors: string[] = [];
      const send = async () => {
        if (!batch.length) return;
        const r = await postBatch(o.url, key!, batch);
        cp.accepted += r.accepted;
        cp.duplicates += r.duplicates;
        cp.rejected += r.rejected.length;
        for (const x of r.rejected) if (errors.length < 20) errors.push(`line ${batchLines[x.index]}: ${x.error}`);
        cp.line = batchLines[batchLines.length - 1]!;
        if (!stdin) writeFileSync(cpPath, JSON.stringify(cp));
        batch = [];
        batchLines = [];
        bar?.update(stdin ? 0 : bytes, { events: cp.accepted + cp.duplicates + cp.rejected, ...cp });
      };
      for await (const line of lines) {
        lineNo++;
        bytes += Buffer.byteLength(line) + 1;
        if (lineNo <= cp.line || !line.trim()) continue;
        try {
          batch.push(JSON.parse(line));
          batchLines.push(lineNo);
        } catch {
          cp.rejected++;
          if (errors.length < 20) errors.push(`line ${lineNo}: not valid JSON`);
        }
        if (batch.length >= batchSize) await send();
      }
      await send();
      bar?.update(stdin ? 0 : size, { events: cp.accepted + cp.duplicates + cp.rejected, ...cp });
      bar?.stop();
      if (!stdin && existsSync(cpPath)) rmSync(cpPath);
      for (const e of errors) process.stderr.write(`rejected ${e}\n`);
      process.stdout.write(`accepted ${cp.accepted}, duplicates ${cp.duplicates}, rejected ${cp.rejected}\n`);
      if (cp.rejected > 0 && cp.accepted === 0 && cp.duplicates === 0) process.exitCode = 1;
    });
}
