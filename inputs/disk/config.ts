import { bool, duration, list, object, optional, regex, str, tags, type Infer } from '../../agent/config/schema.js';

export const schema = object({
  /** Collection interval, clamped to [1s, 1m] like DataKit. */
  interval: duration('10s'),
  /** Only filesystems backed by a block device (the non-`nodev` types of /proc/filesystems). */
  only_physical_device: bool(false),
  /** Report a device mounted at several places once (at its first mount point, sorted). */
  merge_on_device: bool(true),
  /** Devices to collect although they do not start with /dev/ (e.g. an NFS export). */
  extra_device: list(str(), []),
  /** Devices to skip (exact names such as /dev/loop0). */
  exclude_device: list(str(), []),
  /** Filesystem types to skip (regex). */
  ignore_fstypes: regex('^(tmpfs|autofs|binfmt_misc|devpts|fuse.lxcfs|overlay|proc|squashfs|sysfs)$'),
  /** Mount points to skip (regex). */
  ignore_mountpoints: regex('^(/usr/local/datakit/.*|/run/containerd/.*)$'),
  /** Skip filesystems whose size is zero (they are always skipped: kept for compatibility). */
  ignore_zero_bytes_disk: bool(false),
  /** Deprecated DataKit options, accepted and ignored. */
  mount_points: optional(list(str())),
  ignore_fs: optional(list(str())),
  fs: optional(list(str())),
  /** Host root when running in a container (else HOST_PROC / HOST_SYS / HOST_ROOT). */
  host_root: str(''),
  tags: tags(),
});

export type DiskConfig = Infer<typeof schema>;
