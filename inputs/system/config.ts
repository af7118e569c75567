import { duration, list, object, optional, str, tags, type Infer } from '../../agent/config/schema.js';

export const schema = object({
  /** Collection interval, clamped to [1s, 1m] like DataKit. */
  interval: duration('10s'),
  /** Deprecated DataKit option, accepted and ignored. */
  fielddrop: optional(list(str())),
  /** Host root when running in a container (else HOST_PROC / HOST_SYS / HOST_ROOT). */
  host_root: str(''),
  tags: tags(),
});

export type SystemConfig = Infer<typeof schema>;
