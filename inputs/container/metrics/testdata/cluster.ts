/**
 * A small cluster's workload objects as the API server returns them (status
 * with zero counters omitted), for the fixture API server in end-to-end tests.
 */
export function clusterObjects(): [resource: string, obj: Record<string, unknown>][] {
  const meta = (name: string, namespace?: string, extra: object = {}) => ({ name, ...(namespace ? { namespace } : {}), uid: `uid-${name}`, labels: { app: name }, ...extra });
  return [
    [
      'deployments',
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: meta('web', 'shop'),
        spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } } },
        status: { observedGeneration: 4, replicas: 3, updatedReplicas: 3, readyReplicas: 2, availableReplicas: 2, unavailableReplicas: 1, conditions: [{ type: 'Available', status: 'False' }] },
      },
    ],
    [
      'replicasets',
      {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: meta('web-7d4b9c', 'shop', { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'uid-web', controller: true }] }),
        spec: { replicas: 3 },
        status: { replicas: 3, fullyLabeledReplicas: 3, readyReplicas: 2, availableReplicas: 2, observedGeneration: 4 },
      },
    ],
    [
      'daemonsets',
      {
        apiVersion: 'apps/v1',
        kind: 'DaemonSet',
        metadata: meta('telekit', 'telekit'),
        spec: { selector: { matchLabels: { app: 'telekit' } } },
        status: { currentNumberScheduled: 2, desiredNumberScheduled: 2, numberReady: 1, updatedNumberScheduled: 2, numberAvailable: 1, numberUnavailable: 1, observedGeneration: 1 },
      },
    ],
    [
      'statefulsets',
      {
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        metadata: meta('db', 'shop'),
        spec: { replicas: 1, serviceName: 'db' },
        status: { replicas: 1, currentReplicas: 1, updatedReplicas: 1, observedGeneration: 1, currentRevision: 'db-5c6f', updateRevision: 'db-5c6f' },
      },
    ],
    [
      'jobs',
      {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: meta('backup-29400000', 'ops', { ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'backup', uid: 'uid-backup', controller: true }] }),
        spec: { completions: 1, parallelism: 1, backoffLimit: 6 },
        status: { succeeded: 1, startTime: '2026-11-25T14:00:00Z', completionTime: '2026-11-25T14:00:09Z', conditions: [{ type: 'Complete', status: 'True' }] },
      },
    ],
    [
      'cronjobs',
      {
        apiVersion: 'batch/v1',
        kind: 'CronJob',
        metadata: meta('backup', 'ops'),
        spec: { schedule: '0 * * * *', suspend: false, jobTemplate: { spec: {} } },
        status: { lastScheduleTime: '2026-11-25T14:00:00Z' },
      },
    ],
    ...['node-a', 'node-b'].map(
      (name, i): [string, Record<string, unknown>] => [
        'nodes',
        {
          apiVersion: 'v1',
          kind: 'Node',
          metadata: meta(name),
          spec: {},
          status: {
            capacity: { cpu: '4', memory: '16318496Ki', pods: '110', 'ephemeral-storage': '101430960Ki' },
            allocatable: { cpu: '3920m', memory: '15167520Ki', pods: '110', 'ephemeral-storage': '93478772582' },
            conditions: [
              { type: 'MemoryPressure', status: 'False', reason: 'KubeletHasSufficientMemory' },
              { type: 'DiskPressure', status: 'False', reason: 'KubeletHasNoDiskPressure' },
              { type: 'PIDPressure', status: 'False', reason: 'KubeletHasSufficientPID' },
              { type: 'Ready', status: i === 0 ? 'True' : 'False', reason: i === 0 ? 'KubeletReady' : 'KubeletNotReady' },
            ],
            addresses: [{ type: 'InternalIP', address: `10.0.0.${i + 1}` }],
            nodeInfo: { kubeletVersion: 'v1.31.2' },
          },
        },
      ],
    ),
  ];
}
