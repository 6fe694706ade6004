import { StringDecoder } from 'node:string_decoder';
import type { SseEvent } from './providers/usage.ts';

/** One complete server-sent event: its exact text (terminator included) and its parsed fields. */
export interface RawSse extends SseEvent {
  raw: string;
}

/**
 * Fields are parsed on first read: the gateway forwards `raw` to the client first and reads usage
 * from the fields after the write, so parsing stays off the time to first byte.
 */
class LazySse implements RawSse {
  private parsed: SseEvent | undefined;
  constructor(
    readonly raw: string,
    private readonly blockEnd: number,
  ) {}
  private fields(): SseEvent {
    return (this.parsed ??= parseSseBlock(this.raw.slice(0, this.blockEnd)));
  }
  get event(): string | undefined {
    return this.fields().event;
  }
  get data(): string {
    return this.fields().data;
  }
}

const BOUNDARY = /\r\n\r\n|\n\n|\r\r/g;

/** Parses one event block's `event:` and `data:` lines (comments and other fields ignored). */
export function parseSseBlock(block: string): SseEvent {
  let event: string | undefined;
  const data: string[] = [];
  for (const line of block.split(/\r\n|\n|\r/)) {
    if (!line || line.startsWith(':')) continue;
    const i = line.indexOf(':');
    const field = i < 0 ? line : line.slice(0, i);
    let value = i < 0 ? '' : line.slice(i + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  return { event, data: data.join('\n') };
}

/**
 * Incremental splitter: feed it byte chunks as they arrive, get back the events they complete.
 * Pure apart from its buffer; never touches the bytes the client receives.
 */
export class SseSplitter {
  private buf = '';
  // Node's StringDecoder keeps a split multi-byte character for the next chunk as TextDecoder does,
  // at under half its cost per chunk; this runs before each streamed chunk's write.
  private readonly dec = new StringDecoder('utf8');
  private started = false;

  push(chunk: Uint8Array): RawSse[] {
    this.add(this.dec.write(chunk));
    return this.drain();
  }

  /** The stream ended: whatever is left, if it holds a data line, is one last event. */
  end(): RawSse[] {
    this.add(this.dec.end());
    const out = this.drain();
    if (this.buf.trim()) {
      const raw = this.buf;
      this.buf = '';
      const ev = parseSseBlock(raw);
      if (ev.data || ev.event) out.push({ raw, ...ev });
    }
    return out;
  }

  /** Appends decoded text; a byte-order mark opening the stream is dropped (as TextDecoder and the SSE spec do). */
  private add(text: string) {
    if (!this.started && text) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    this.buf += text;
  }

  private drain(): RawSse[] {
    const out: RawSse[] = [];
    let from = 0;
    for (;;) {
      const m = nextBoundary(this.buf, from);
      if (!m) break;
      out.push(new LazySse(this.buf.slice(from, m.end), m.at - from));
      from = m.end;
    }
    if (from) this.buf = this.buf.slice(from);
    return out;
  }
}

/** The first event terminator at or after `from`: where it starts and where it ends. */
function nextBoundary(buf: string, from: number): { at: number; end: number } | undefined {
  // Most streams use bare \n line ends: one indexOf, no regex, unless a \r is in sight.
  const nn = buf.indexOf('\n\n', from);
  const cr = buf.indexOf('\r', from);
  if (cr < 0 || (nn >= 0 && nn < cr)) return nn < 0 ? undefined : { at: nn, end: nn + 2 };
  BOUNDARY.lastIndex = from;
  const m = BOUNDARY.exec(buf);
  return m ? { at: m.index, end: m.index + m[0].length } : undefined;
}
