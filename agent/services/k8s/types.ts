/**
 * What Kubernetes discovery exposes to the rest of the agent. Implemented in
 * agent/services/k8s/ (pod informer, Lease election); consumed by prom, container, ...
 */

export interface ContainerInfo {
  name: string;
  image: string;
  /** Runtime id without the scheme (`containerd://abc` → `abc`); empty before start. */
  id: string;
  /** `containerd`, `docker`, `cri-o`, ... from the id's scheme. */
  runtime: string;
  restartCount: number;
  ready: boolean;
  /** Literal env values from the pod spec (valueFrom is not resolved). */
  env: Record<string, string>;
  /**
   * Requests and limits from the pod spec (CPU in cores, memory in bytes);
   * a key is absent when the spec does not set it. Optional so producers
   * that do not fill it stay valid; used by container metrics for percentages.
   */
  resources?: ContainerResources;
  /** True for init containers (listed after the regular ones); absent otherwise. */
  init?: boolean;
  /** The spec's volumeMounts (`datakit/logs` entries of type file are read through them); absent when none. */
  mounts?: VolumeMount[];
}

export interface VolumeMount {
  /** The pod volume's name. */
  name: string;
  /** Where it is mounted inside the container. */
  mountPath: string;
  /** A sub-directory of the volume mounted instead of its root; '' for the root. */
  subPath: string;
  /** True when the mount uses subPathExpr (expanded by the kubelet from env: not resolvable here). */
  subPathExpr?: boolean;
}

export interface PodVolume {
  name: string;
  /** The volume's source kind: `emptyDir`, `hostPath`, `configMap`, `persistentVolumeClaim`, ... (the spec's key). */
  kind: string;
}

export interface ContainerResources {
  cpuLimit?: number;
  cpuRequest?: number;
  memoryLimit?: number;
  memoryRequest?: number;
}

export interface OwnerRef {
  /** Workload kind after resolving ReplicaSet → Deployment, Job → CronJob by name: `deployment`, `daemonset`, `statefulset`, `job`, `cronjob`, ... (lower-case) */
  kind: string;
  name: string;
}

export interface PodInfo {
  uid: string;
  namespace: string;
  name: string;
  nodeName: string;
  ip: string;
  phase: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  owner: OwnerRef | undefined;
  containers: ContainerInfo[];
  /** The spec's volumes (name and source kind); absent when none. */
  volumes?: PodVolume[];
  /** metadata.resourceVersion of the last update seen. */
  resourceVersion: string;
}

export type PodEvent =
  | { type: 'add'; pod: PodInfo }
  | { type: 'update'; pod: PodInfo; old: PodInfo }
  | { type: 'delete'; pod: PodInfo };

export interface PodWatcher {
  /** The pods of this node as currently known. */
  list(): PodInfo[];
  get(namespace: string, name: string): PodInfo | undefined;
  /** Subscribes to changes; `add` is replayed for the pods already known. Returns an unsubscribe function. */
  subscribe(listener: (ev: PodEvent) => void): () => void;
  /** Resolves after the first successful list. */
  synced(): Promise<void>;
}

export interface Election {
  isLeader(): boolean;
  /** Called with the new state whenever leadership changes. Returns an unsubscribe function. */
  onChange(listener: (leader: boolean) => void): () => void;
}

export interface K8sServices {
  pods: PodWatcher;
  /** Undefined when election is disabled (ENV_ENABLE_ELECTION empty). */
  election: Election | undefined;
  /** The configured @kubernetes/client-node KubeConfig (for inputs that need other kinds). */
  kubeConfig: unknown;
}
