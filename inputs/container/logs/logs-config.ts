/**
 * Per-container log configuration, highest priority first: the container env
 * `DATAKIT_LOGS_CONFIG`, the pod annotation `datakit/<container>.logs`, the pod
 * annotation `datakit/logs`. The value is a JSON array; the first entry for
 * stdout/stderr (no `type`, or type `stdout`) applies.
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

export interface ResolveResult {
  config: ContainerLogConfig;
  /** Where it came from, or an error text when the value was invalid (defaults used). */
  origin: 'env' | 'container-annotation' | 'pod-annotation' | 'default';
  error?: string;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function parseValue(text: string, containerName: string): ContainerLogConfig | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return `invalid JSON: ${(e as Error).message}`;
  }
  const arr = Array.isArray(v) ? v : [v];
  const e = arr.find((x): x is Record<string, unknown> => typeof x === 'object' && x !== null && (x.type === undefined || x.type === '' || x.type === 'stdout'));
  if (!e) return 'no stdout entry (type "file" entries are not supported)';
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
    if (typeof r === 'string') return { config: defaultLogConfig(containerName), origin, error: r };
    return { config: r, origin };
  }
  return { config: defaultLogConfig(containerName), origin: 'default' };
}
