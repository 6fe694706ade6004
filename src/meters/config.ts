import { z } from 'zod';

/** `meters:` config section (imported by src/config.ts). Definitions are validated at start by the meter service. */
export const metersConfigSchema = z
  .object({
    /** Meters defined in the file: [{slug, event_type, aggregation, value_property, group_by}]. */
    definitions: z.array(z.record(z.string(), z.unknown())).default([]),
    /** An open media session counts at most this long after its start (runaway sessions). */
    max_session_hours: z.coerce.number().positive().max(24 * 31).default(12),
  })
  .strict()
  .default({ definitions: [], max_session_hours: 12 });

export type MetersConfigSection = z.infer<typeof metersConfigSchema>;

export const METERS_ENV: Array<[string, string[]]> = [['TOLLGATE_MEDIA_MAX_SESSION_HOURS', ['meters', 'max_session_hours']]];
