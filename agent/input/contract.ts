/**
 * The contract between the agent core and an input.
 *
 * An input receives or collects data and hands {@link Point}s to its
 * {@link Accumulator}. It never sees sinks, global tags or batching: the core's
 * running-input wrapper (agent/input/running-input.ts) adds host/election/input tags and
 * queues the points.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Category, Point } from '../model/point.js';
import type { Schema } from '../config/schema.js';
import type { HttpRoutes } from '../server/http-routes.js';
import type { K8sServices } from '../services/k8s/types.js';
import type { PipelineScripts } from '../services/pipeline/types.js';
import type { RecordFormat, Upload } from '../delivery/sinks/types.js';

export interface AddOptions {
  /**
   * Called once every point of this call has been durably accepted by the sinks
   * (sent, or written to the disk buffer). Never called for dropped points.
   */
  onAck?: () => void;
  /**
   * Cluster-level points from an input that is not itself an election input
   * (e.g. object metrics collected by the leader only): they carry the
   * election tags instead of the host tags, so they do not change their
   * `host` when leadership moves.
   */
  electionTags?: boolean;
  /**
   * Global tag keys (host or election tags) not to add to these points, e.g.
   * `['host']` for prom's `disable_host_tag`. Input-level `tags` and tags the
   * points already carry are unaffected.
   */
  omitGlobalTags?: readonly string[];
}

export interface Accumulator {
  /**
   * Hands points to the core without waiting. When the category's queue is
   * full the points are dropped and counted (reason `queue_full`).
   * Returns how many points were accepted.
   */
  add(points: Point | Point[], opts?: AddOptions): number;
  /**
   * Hands points to the core, waiting while the category's queue is full:
   * for producers that can pause (log tailing). Never drops.
   */
  addWait(points: Point | Point[], opts?: AddOptions): Promise<void>;
  /** True while the core asks producers to back off (queue full or memory limit). */
  overloaded(category: Category): boolean;
  /**
   * The fast path for inputs that encode in worker threads: points already
   * encoded as records in the category's {@link recordFormat} (line protocol
   * where it has none, then decoded back to points: correct but slow), the
   * tags of {@link tagsToAdd} applied, all queued or none like add().
   * `ends[i]` is the offset just after record i. `data` is copied (or
   * decoded) before it returns: the caller may reuse it.
   */
  addLines?(category: Category, data: Uint8Array, ends: ArrayLike<number>, opts?: AddOptions): number;
  /** addLines() that waits while the queue is full, like addWait(); `data` may be reused once it resolves. */
  addLinesWait?(category: Category, data: Uint8Array, ends: ArrayLike<number>, opts?: AddOptions): Promise<void>;
  /** The tags the core gives a point that lacks the key: the input's `tags`, then the global tags. */
  tagsToAdd?(opts?: AddOptions): Readonly<Record<string, string>>;
  /** Whether lines of the category go to every sink as they are (no sink needs points). */
  takesLines?(category: Category): boolean;
  /** The record format every sink of the category takes as it is (`lp` lines, `pb` PBPoints entries), if one. */
  recordFormat?(category: Category): RecordFormat | undefined;
  /**
   * Queues a raw upload (session replay) for every sink that takes uploads,
   * with retries; the core adds the global tags. False when the upload queue
   * is full (answer 503) or no upload path exists.
   */
  upload?(u: Omit<Upload, 'globalTags'>): boolean;
  /**
   * Records a runtime error: counted in `telekit_input_errors_total{input,kind}`
   * and logged at most once per kind per minute.
   */
  error(kind: string, err: unknown): void;
}

export interface HostInfo {
  /** The agent's hostname: ENV_HOSTNAME, else ENV_K8S_NODE_NAME, else os.hostname(). */
  hostname: string;
  /** ENV_K8S_NODE_IP, else the first non-internal IPv4 address. */
  ip: string;
  /** ENV_K8S_NODE_NAME (may be empty outside Kubernetes). */
  nodeName: string;
}

export interface InputContext {
  /** Input name, e.g. `statsd`. */
  readonly name: string;
  /** 0-based index among the `[[inputs.<name>]]` instances. */
  readonly instance: number;
  readonly acc: Accumulator;
  /** A pino child logger bound to `{ input, instance }`. */
  readonly log: Logger;
  /** The agent's HTTP server (port 9529): inputs register routes here. */
  readonly http: HttpRoutes;
  readonly host: HostInfo;
  /** Agent data directory (checkpoints, buffers). Inputs use `<dataDir>/<input>/`. */
  readonly dataDir: string;
  /** Kubernetes pod discovery and election; undefined when no API is configured. */
  readonly k8s: K8sServices | undefined;
  /** The Pipeline scripts of the pipeline directory (agent/services/pipeline/); undefined when there is none. */
  readonly pipelines?: PipelineScripts | undefined;
  /** The agent's prom-client registry: inputs add their own `telekit_<input>_*` metrics. */
  readonly metrics: Registry;
  /** Aborted when the input is being stopped. */
  readonly signal: AbortSignal;
  /**
   * True when `token` is the workspace token of the agent's first dataway:
   * DataKit's check for its management routes (`PUT /v1/sourcemap`). False
   * when no dataway (or no token) is configured.
   */
  readonly checkToken?: (token: string) => boolean;
}

export interface Input {
  /**
   * Starts receiving/collecting. Binds ports and registers routes. Rejects on a
   * startup failure (port in use); after it resolves the input never throws.
   */
  start(): Promise<void>;
  /**
   * Stops accepting first, then hands everything still buffered to the
   * accumulator. Idempotent and safe without start. The accumulator may be used
   * until the returned promise resolves.
   */
  stop(): Promise<void>;
}

/** A socket an input instance binds beside the agent's HTTP server (checked for conflicts before anything binds). */
export interface PortClaim {
  protocol: 'tcp' | 'udp';
  /** Listen address; '' (or 0.0.0.0, ::) is every address. */
  host: string;
  /** 0 (any free port) never conflicts. */
  port: number;
  /** The option that sets it, for messages (e.g. `service_address`). */
  key: string;
}

/** An agent-wide variable that sets an input option (InputDefinition.agentEnv); `default` and `doc` go to the README's table. */
export interface AgentEnvOption {
  readonly env: string;
  readonly option: string;
  readonly default: string;
  readonly doc: string;
}

export interface InputDefinition<C = any> {
  /** The TOML name: `[[inputs.<name>]]`. */
  readonly name: string;
  /** The `<NAME>` of its `ENV_INPUT_<NAME>_<OPTION>` variables when DataKit's differs from the name (opentelemetry: `OTEL`). */
  readonly envName?: string;
  /**
   * Options DataKit sets agent-wide rather than in the input's table
   * (datakit.conf's `[http_api] rum_origin_ip_header`, `ENV_RUM_ORIGIN_IP_HEADER`):
   * a set variable is the option's value for every instance that does not set
   * the option itself (config/load.ts; the main file's keys become these variables).
   */
  readonly agentEnv?: readonly AgentEnvOption[];
  /** One line for `check-config` and the README. */
  readonly description: string;
  /** Options, types and defaults: the single source of truth for config. */
  readonly schema: Schema<C>;
  /** `[inputs.container]` style (one instance) instead of `[[inputs.x]]`. */
  readonly singleton?: boolean;
  /**
   * Cluster-level input: when election is on, it runs only on the leader and its
   * points carry the election tags instead of the host tags.
   */
  readonly election?: (config: C) => boolean;
  /**
   * The ports an instance with this config binds of its own (not routes on the
   * agent's server). The agent checks them against each other and against
   * ENV_HTTP_LISTEN at start, in check-config and on reload, before anything
   * binds. No I/O.
   */
  readonly ports?: (config: C) => PortClaim[];
  /** Builds the input. Must do no I/O: start() does. */
  create(config: C, ctx: InputContext): Input;
}
