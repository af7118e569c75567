/**
 * Container include/exclude filters shared by logs and metrics.
 *
 * A filter is `<type>:<glob>` where type is `image`, `image_name`,
 * `image_short_name` or `namespace`; `*` matches any characters including `/`.
 *
 * Rule (DataKit's documented one): a container that matches an include filter
 * is collected, even when it also matches an exclude filter; otherwise a
 * container that matches an exclude filter is skipped; otherwise it is
 * collected. So `include = []`, `exclude = []` collects everything, and
 * "only nginx" is `include = ["image_short_name:nginx"]`, `exclude = ["image:*"]`.
 */
import picomatch from 'picomatch';

export const FILTER_TYPES = ['image', 'image_name', 'image_short_name', 'namespace'] as const;
export type FilterType = (typeof FILTER_TYPES)[number];

export interface FilterTarget {
  /** Full image reference, e.g. `docker.io/library/nginx:1.25`. */
  image: string;
  namespace: string;
}

export interface ImageParts {
  /** Image without tag or digest: `docker.io/library/nginx`. */
  name: string;
  /** Last path element of the name: `nginx`. */
  shortName: string;
  /** Tag, `latest` when absent; empty for digest-only references. */
  tag: string;
}

/** Splits an image reference into name, short name and tag. */
export function parseImage(image: string): ImageParts {
  let ref = image;
  const at = ref.indexOf('@');
  let digestOnly = false;
  if (at >= 0) {
    ref = ref.slice(0, at);
    digestOnly = true;
  }
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  let name = ref;
  let tag = digestOnly ? '' : 'latest';
  if (colon > slash) {
    name = ref.slice(0, colon);
    tag = ref.slice(colon + 1);
  }
  const shortName = name.slice(name.lastIndexOf('/') + 1);
  return { name, shortName, tag };
}

interface Rule {
  type: FilterType;
  re: RegExp;
}

/** Problems with filter strings (for config validation at create time). */
export function filterIssues(filters: readonly string[]): string[] {
  const out: string[] = [];
  for (const f of filters) {
    const i = f.indexOf(':');
    const type = i < 0 ? '' : f.slice(0, i);
    if (!(FILTER_TYPES as readonly string[]).includes(type)) {
      out.push(`filter ${JSON.stringify(f)} must start with one of ${FILTER_TYPES.map((t) => t + ':').join(', ')}`);
    } else if (f.slice(i + 1) === '') {
      out.push(`filter ${JSON.stringify(f)} has an empty glob`);
    }
  }
  return out;
}

function compile(filters: readonly string[]): Rule[] {
  const rules: Rule[] = [];
  for (const f of filters) {
    const i = f.indexOf(':');
    const type = f.slice(0, i) as FilterType;
    if (i < 0 || !(FILTER_TYPES as readonly string[]).includes(type)) continue;
    rules.push({ type, re: picomatch.makeRe(f.slice(i + 1), { bash: true, dot: true }) });
  }
  return rules;
}

export class ContainerFilter {
  private readonly include: Rule[];
  private readonly exclude: Rule[];

  /** Unknown prefixes are ignored here; check them with {@link filterIssues} first. */
  constructor(include: readonly string[], exclude: readonly string[]) {
    this.include = compile(include);
    this.exclude = compile(exclude);
  }

  /** True when the container should be collected. */
  allows(t: FilterTarget): boolean {
    const img = parseImage(t.image);
    const value = (type: FilterType): string =>
      type === 'image' ? t.image : type === 'image_name' ? img.name : type === 'image_short_name' ? img.shortName : t.namespace;
    const hit = (rules: Rule[]) => rules.some((r) => r.re.test(value(r.type)));
    if (hit(this.include)) return true;
    return !hit(this.exclude);
  }
}

/** Pause/sandbox images (always skipped for logs). */
export function isPauseImage(image: string): boolean {
  const { shortName } = parseImage(image);
  return shortName === 'pause' || shortName.endsWith('-pause') || shortName === 'pause-amd64' || image.includes('/pause:');
}
