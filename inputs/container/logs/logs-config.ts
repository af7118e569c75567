/**
 * Per-container log configuration, highest priority first: the container env
 * `DATAKIT_LOGS_CONFIG`, the pod annotation `datakit/<container>.logs`, the pod
 * annotation `datakit/logs`. The value is a JSON array; the first entry for
 * stdout/stderr (no `type`, or type `stdout`) applies to the container's
 * output, and every entry with `"type": "file"` and a `path` names files inside
 * the container (./inside.ts). As in DataKit, a value with file entries and no
 * stdout entry collects only those files.
 */
export interface ContainerLogConfig {
  disable: boolean;
  source: string;
  service: string;
  multilineMatch: string | undefined;
  removeAnsi: boolean | undefined;
  fromBeginning: boolean | undefined;
  tags: Record<string, string>;
  /** The `pipeline` key: a script of the pipeline directory (default `<source>.p` when it exists). */
  pipeline: string | undefined;
}

/** A `"type": "file"` entry: a glob inside the container, with its own source, service, tags, … */
export interface FileLogEntry {
  /** The path (glob) as written, a path inside the container. */
  path: string;
  config: ContainerLogConfig;
}

export interface ResolveResult {
  /** The stdout/stderr config; `disable` is set when the value has only file entries. */
  config: ContainerLogConfig;
  /** The enabled `type: file` entries with a path. */
  files: FileLogEntry[];
  /** Where it came from, or an error text when the value was invalid (defaults used). */
  origin: 'env' | 'container-annotation' | 'pod-annotation' | 'default';
  error?: string;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

const isEntry = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isStdout = (x: Record<string, unknown>): boolean => x.type === undefined || x.type === '' || x.type === 'stdout';

function parseValue(text: string, containerName: string): { config: ContainerLogConfig; files: FileLogEntry[] } | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return `invalid JSON: ${(e as Error).message}`;
  }
  const arr = (Array.isArray(v) ? v : [v]).filter(isEntry);
  const e = arr.find(isStdout);
  const files: FileLogEntry[] = [];
  for (const f of arr) {
    if (f.type !== 'file' || typeof f.path !== 'string' || f.path === '') continue;
    const c = entryConfig(f, containerName);
    if (!c.disable) files.push({ path: f.path, config: c });
  }
  if (!e) {
    if (arr.some((x) => x.type === 'file')) return { config: { ...defaultLogConfig(containerName), disable: true }, files };
    return 'no stdout or file entry';
  }
  return { config: entryConfig(e, containerName), files };
}

function entryConfig(e: Record<string, unknown>, containerName: string): ContainerLogConfig {
  const source = str(e.source) ?? containerName;
  const tags: Record<string, string> = {};
  if (typeof e.tags === 'object' && e.tags !== null) {
    for (const [k, x] of Object.entries(e.tags as Record<string, unknown>)) if (typeof x === 'string') tags[k] = x;
  }
  let multilineMatch = str(e.multiline_match);
  if (multilineMatch !== undefined) {
    try {
      new RegExp(multilineMatch);
    } catch {
      multilineMatch = undefined;
    }
  }
  return {
    disable: e.disable === true,
    source,
    service: str(e.service) ?? source,
    multilineMatch,
    removeAnsi: typeof e.remove_ansi_escape_codes === 'boolean' ? e.remove_ansi_escape_codes : undefined,
    fromBeginning: typeof e.from_beginning === 'boolean' ? e.from_beginning : undefined,
    tags,
    pipeline: str(e.pipeline),
  };
}

export function defaultLogConfig(containerName: string): ContainerLogConfig {
  return { disable: false, source: containerName, service: containerName, multilineMatch: undefined, removeAnsi: undefined, fromBeginning: undefined, tags: {}, pipeline: undefined };
}

export function resolveLogConfig(containerName: string, env: Record<string, string>, annotations: Record<string, string>): ResolveResult {
  const candidates: [ResolveResult['origin'], string | undefined][] = [
    ['env', env['DATAKIT_LOGS_CONFIG']],
    ['container-annotation', annotations[`datakit/${containerName}.logs`]],
    ['pod-annotation', annotations['datakit/logs']],
  ];
  for (const [origin, text] of candidates) {
    if (text === undefined || text.trim() === '') continue;
    const r = parseValue(text, containerName);
    if (typeof r === 'string') return { config: defaultLogConfig(containerName), files: [], origin, error: r };
    return { ...r, origin };
  }
  return { config: defaultLogConfig(containerName), files: [], origin: 'default' };
}
