import { z } from 'zod';
import { parseRfc3339 } from '../shared/time.ts';
import { SUPPORTED_RANGE, inSupportedRange } from '../shared/time.ts';

/** A query-string timestamp: RFC 3339 in, Date out, within the supported range (shared/time.ts); the error names the parameter. */
export const rfc3339Param = (name: string) =>
  z.string({ error: `${name} is required (RFC 3339, e.g. 2026-03-01T00:00:00+09:00)` }).transform((v, ctx) => {
    const d = parseRfc3339(v);
    if (!d) {
      ctx.addIssue({ code: 'custom', message: `must be an RFC 3339 timestamp such as 2026-03-01T00:00:00+09:00` });
      return z.NEVER;
    }
    if (!inSupportedRange(d)) {
      ctx.addIssue({ code: 'custom', message: `must be within the supported range ${SUPPORTED_RANGE} (got ${d.toISOString()})` });
      return z.NEVER;
    }
    return d;
  });
