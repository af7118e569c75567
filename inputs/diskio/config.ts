import { bool, duration, list, object, regex, str, tags, type Infer } from '../../agent/config/schema.js';

export const schema = object({
  /** Collection interval, clamped to [1s, 1m] like DataKit. */
  interval: duration('10s'),
  /** Regexes on device names (sda, nvme0n1p1, or a udev /dev/disk/... link); empty = all devices. */
  devices: list(regex(), []),
  /** Do not add the `serial` tag (udev ID_SERIAL). */
  skip_serial_number: bool(false),
  /** udev properties to add as tags (e.g. ID_FS_TYPE). */
  device_tags: list(str(), []),
  /** Templates for the `name` tag using udev properties ($ID_FS_LABEL, ${DM_VG_NAME}/${DM_LV_NAME}, $device). */
  name_templates: list(str(), []),
  /** Host root when running in a container (else HOST_PROC / HOST_SYS / HOST_ROOT). */
  host_root: str(''),
  tags: tags(),
});

export type DiskioConfig = Infer<typeof schema>;
