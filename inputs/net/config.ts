import { bool, duration, list, object, regex, str, tags, type Infer } from '../../agent/config/schema.js';

export const schema = object({
  /** Collection interval, clamped to [1s, 1m] like DataKit. */
  interval: duration('10s'),
  /** Regexes on interface names (among those that are up); empty = all. */
  interfaces: list(regex(), []),
  /** Also collect virtual interfaces (lo, veth*, bridges: those under /sys/devices/virtual/net), even when named in `interfaces`. */
  enable_virtual_interfaces: bool(false),
  /** Skip the `interface=all` point with TCP/UDP counters from /proc/net/snmp. */
  ignore_protocol_stats: bool(false),
  /** Host root when running in a container (else HOST_PROC / HOST_SYS / HOST_ROOT). */
  host_root: str(''),
  tags: tags(),
});

export type NetConfig = Infer<typeof schema>;
