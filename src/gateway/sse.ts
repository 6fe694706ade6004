import type { SseEvent } from './usage.ts';

/** One complete server-sent event: its exact text (terminator included) and its parsed fields. */
export interface RawSse extends SseEvent {
  raw: string;
}

const BOUNDARY = /\r\n\r\n|\n\n|\r\r/;

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
  private readonly dec = new TextDecoder();

  push(chunk: Uint8Array): RawSse[] {
    this.buf += this.dec.decode(chunk, { stream: true });
    return this.drain();
  }

  /** The stream ended: whatever is left, if it holds a data line, is one last event. */
  end(): RawSse[] {
    this.buf += this.dec.decode();
    const out = this.drain();
    if (this.buf.trim()) {
      const raw = this.buf;
      this.buf = '';
      const ev = parseSseBlock(raw);
      if (ev.data || ev.event) out.push({ raw, ...ev });
    }
    return out;
  }

  private drain(): RawSse[] {
    const out: RawSse[] = [];
    for (;;) {
      const m = BOUNDARY.exec(this.buf);
      if (!m) break;
      const end = m.index + m[0].length;
      const raw = this.buf.slice(0, end);
      this.buf = this.buf.slice(end);
      const ev = parseSseBlock(raw.slice(0, m.index));
      if (ev.data || ev.event) out.push({ raw, ...ev });
      else out.push({ raw, data: '' });
    }
    return out;
  }
}
