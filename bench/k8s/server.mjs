// A minimal API server for bench/k8s (child process, so its CPU is not counted):
// GET /api/v1/pods → a PodList of N pods; GET ...?watch=true → M MODIFIED events, then holds.
import http from 'node:http';

const N = Number(process.env.PODS ?? 110);
const M = Number(process.env.EVENTS ?? 10000);

function pod(i, rv) {
  const name = `web-5d8f7c9b4-${String(i).padStart(5, '0')}`;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name, namespace: `ns-${i % 20}`, uid: `uid-${i}`, resourceVersion: String(rv),
      labels: { app: 'web', tier: 'frontend', 'pod-template-hash': '5d8f7c9b4' },
      annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9090', 'kubectl.kubernetes.io/restartedAt': '2026-11-25T10:00:00Z' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-5d8f7c9b4', uid: 'rs-uid', controller: true }],
      creationTimestamp: '2026-11-25T10:00:00Z',
    },
    spec: {
      nodeName: 'node-a',
      containers: [
        { name: 'app', image: 'registry.example.com/web:1.2.3', env: [{ name: 'MODE', value: 'prod' }, { name: 'PORT', value: '8080' }], resources: { limits: { cpu: '500m', memory: '256Mi' }, requests: { cpu: '100m', memory: '128Mi' } }, ports: [{ containerPort: 8080, protocol: 'TCP' }] },
        { name: 'envoy', image: 'envoyproxy/envoy:v1.30', resources: { limits: { cpu: '200m', memory: '128Mi' } } },
      ],
    },
    status: {
      phase: 'Running', podIP: `10.0.${i >> 8}.${i & 255}`, hostIP: '192.168.0.10',
      conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2026-11-25T10:00:05Z' }],
      containerStatuses: [
        { name: 'app', image: 'registry.example.com/web:1.2.3', imageID: 'sha256:abc', containerID: `containerd://${'a'.repeat(56)}${String(i).padStart(8, '0')}`, ready: true, restartCount: 0, started: true },
        { name: 'envoy', image: 'envoyproxy/envoy:v1.30', imageID: 'sha256:def', containerID: `containerd://${'b'.repeat(56)}${String(i).padStart(8, '0')}`, ready: true, restartCount: 1, started: true },
      ],
    },
  };
}

const list = JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: String(N) }, items: Array.from({ length: N }, (_, i) => pod(i, i + 1)) });
const events = Array.from({ length: M }, (_, k) => JSON.stringify({ type: 'MODIFIED', object: pod(k % N, N + 1 + k) }) + '\n').join('');

const server = http.createServer((req, res) => {
  const u = new URL(req.url, 'http://x');
  if (u.searchParams.get('watch') === 'true' || u.searchParams.get('watch') === '1') {
    res.writeHead(200, { 'content-type': 'application/json' });
    if (u.searchParams.get('resourceVersion') === String(N)) res.write(events);
    return; // held open
  }
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(list) });
  res.end(list);
});
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port, listBytes: list.length, eventBytes: events.length }));
process.on('disconnect', () => process.exit(0));
