import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { UpstreamCall, type BodySink } from './upstream.ts';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A sink that writes down what it is given. */
class Tape implements BodySink {
  chunks: string[] = [];
  lasts: boolean[] = [];
  ended = false;
  failure: unknown;
  data(c: Buffer, last: boolean) {
    this.chunks.push(String(c));
    this.lasts.push(last);
  }
  end() {
    this.ended = true;
  }
  fail(e: unknown) {
    this.failure = e;
  }
}

let server: http.Server;
let pool: Pool;
let closed = 0;
let slowHeads = 0;
beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/slow-head') slowHeads++;
    req.on('close', () => {
      if (!res.writableFinished) closed++;
    });
    if (req.url === '/whole') return void res.end('{"ok":true}');
    if (req.url === '/hints') {
      res.writeEarlyHints({ link: '</x>; rel=preload' });
      return void res.end('after hints');
    }
    if (req.url === '/slow-head') return void setTimeout(() => res.end('late'), 2_000);
    // /drip: the head and a first chunk at once, a second chunk later, then the end
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('one;');
    // Far enough apart that a loaded machine still delivers 'one;' alone first.
    setTimeout(() => {
      res.write('two;');
      setTimeout(() => res.end(), 30);
    }, 300);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
afterAll(async () => {
  await pool.close();
  server.closeAllConnections();
  await new Promise((ok) => server.close(ok));
});

const start = (path: string) => {
  const call = new UpstreamCall();
  pool.dispatch({ path, method: 'GET' }, call);
  return call;
};

describe('UpstreamCall', () => {
  it('settles its head with the status and headers, and hands over a small body whole', async () => {
    const call = start('/whole');
    expect(await call.head).toBe(true);
    expect(call.status).toBe(200);
    await tick(20);
    expect(String(call.bodyIfComplete())).toBe('{"ok":true}');
  });

  it('passes over informational heads', async () => {
    const call = start('/hints');
    expect(await call.head).toBe(true);
    expect(call.status).toBe(200);
    expect(String(await call.body())).toBe('after hints');
  });

  it('replays the chunks held before the sink came, then streams the rest in order', async () => {
    const call = start('/drip');
    await call.head;
    await tick(10); // the first chunk arrives before anyone reads
    expect(call.bodyIfComplete()).toBeUndefined(); // not complete yet
    const tape = new Tape();
    call.pipe(tape);
    expect(tape.chunks).toEqual(['one;']);
    await tick(600);
    expect(tape.chunks.join('')).toBe('one;two;');
    expect(tape.lasts.every((l) => !l)).toBe(true); // the body was not all here when the sink came
    expect(tape.ended).toBe(true);
  });

  it('a body all here before the sink came: its final chunk is marked last, then the end', async () => {
    const call = start('/whole');
    await call.head;
    await tick(20);
    const tape = new Tape();
    call.pipe(tape);
    expect(tape.chunks.join('')).toBe('{"ok":true}');
    expect(tape.lasts.at(-1)).toBe(true);
    expect(tape.lasts.slice(0, -1).every((l) => !l)).toBe(true);
    expect(tape.ended).toBe(true);
  });

  it('an abort before the head settles it at once with the reason, and closes the upstream request', async () => {
    const before = closed;
    const call = start('/slow-head');
    await tick(30);
    const reason = new Error('timed out');
    call.abort(reason);
    expect(await call.head).toBe(false);
    expect(call.aborted).toBe(true);
    expect(call.reason).toBe(reason);
    await tick(50);
    expect(closed).toBe(before + 1);
  });

  it('a deadline aborts a call whose head is late with the reason given, and ends once the head came', async () => {
    const late = start('/slow-head');
    const reason = new Error('no head in time');
    late.deadline(50, () => reason);
    expect(await late.head).toBe(false);
    expect(late.reason).toBe(reason);

    const quick = start('/whole');
    quick.deadline(50, () => new Error('must not fire'));
    expect(await quick.head).toBe(true);
    await tick(100);
    expect(quick.aborted).toBe(false);
    expect(String(await quick.body())).toBe('{"ok":true}');
  });

  it('an abort before the request is on a socket drops it when undici starts it: nothing is sent', async () => {
    const before = slowHeads;
    const call = new UpstreamCall();
    call.abort(new Error('client gone'));
    expect(await call.head).toBe(false);
    pool.dispatch({ path: '/slow-head', method: 'GET' }, call);
    await tick(100);
    expect(call.status).toBe(0);
    expect(slowHeads).toBe(before);
  });

  it('an abort during the body fails the sink, and a whole-body read rejects', async () => {
    const call = start('/drip');
    await call.head;
    const tape = new Tape();
    call.pipe(tape);
    call.abort(new Error('client gone'));
    expect(tape.failure).toBeInstanceOf(Error);
    expect(tape.ended).toBe(false);

    const other = start('/drip');
    await other.head;
    const body = other.body();
    other.abort(new Error('client gone'));
    await expect(body).rejects.toThrow('client gone');
  });
});
