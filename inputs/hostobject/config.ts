import { bool, duration, list, object, optional, record, str, tags, type Infer } from '../../agent/config/schema.js';

export const schema = object({
  /** How often the HOST object is sent; DataKit's default is 5 minutes (clamped to 10s..30m). */
  interval: duration('5m'),
  /** Count virtual network interfaces in the net section and rates. */
  enable_net_virtual_interfaces: bool(false),
  /** Disk selection, as in the disk input. */
  ignore_zero_bytes_disk: bool(true),
  only_physical_device: bool(false),
  merge_on_device: bool(false),
  extra_device: list(str(), []),
  exclude_device: list(str(), []),
  /** Cloud metadata sync (needs the cloud's metadata endpoint): accepted for compatibility, not implemented. */
  disable_cloud_provider_sync: bool(false),
  enable_cloud_host_tags_as_global_election_tags: bool(true),
  enable_cloud_host_tags_as_global_host_tags: bool(true),
  cloud_meta_url: record(str()),
  cloud_info: record(str()),
  /** Deprecated DataKit options, accepted and ignored. */
  ignore_fs: optional(list(str())),
  config_path: optional(list(str())),
  name: optional(str()),
  class: optional(str()),
  description: optional(str()),
  pipeline: optional(str()),
  ignore_inputs_errors_before: optional(duration()),
  io_timeout: optional(duration()),
  enable_cloud_host_tags_global_election: optional(bool()),
  enable_cloud_host_tags_global_host: optional(bool()),
  /** Host root when running in a container (else HOST_PROC / HOST_SYS / HOST_ROOT). */
  host_root: str(''),
  tags: tags(),
});

export type HostobjectConfig = Infer<typeof schema>;
