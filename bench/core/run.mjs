// Encoder floor: points/s for line protocol (v1) and protobuf points (v2), each
// followed by gzip at the dataway's default level, on the same points, in one process.
// Median of 7 runs of 50,000 points each. Usage: node bench/core/run.mjs
import zlib from 'node:zlib';
import { encodeV1, encodeV2 } from '../../dist/agent/delivery/sinks/encode.js';

const N = 50_000;
const RUNS = 7;
const now = BigInt(Date.now()) * 1_000_000n;

function metricPoints() {
  const pts = [];
  for (let i = 0; i < N; i++) {
    pts.push({
      category: 'metric',
      name: 'kubelet_pod',
      tags: { host: 'node-12', namespace: 'prod', pod_name: `reviews-v2-5d8f7c9b4-${i % 300}`, deployment: 'reviews-v2', cluster_name_k8s: 'k8s-istio', container_name: 'reviews' },
      fields: { cpu_usage: Math.random() * 2, mem_used_bytes: BigInt(100_000_000 + i), restarts: 3n, network_rx_bytes: Math.random() * 1e6 },
      time: now + BigInt(i),
    });
  }
  return pts;
}

function logPoints() {
  const pts = [];
  for (let i = 0; i < N; i++) {
    pts.push({
      category: 'logging',
      name: 'reviews',
      tags: { host: 'node-12', namespace: 'prod', pod_name: 'reviews-v2-5d8f7c9b4-x2', service: 'reviews', status: 'info', stream: 'stdout' },
      fields: { message: `2026-11-25T10:00:00.000Z INFO [http-nio-9080-exec-${i % 10}] c.r.ReviewsController GET /reviews/${i} 200 "quoted" in ${i % 97}ms` },
      time: now + BigInt(i),
    });
  }
  return pts;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

function measure(label, points, enc) {
  const rates = [];
  let raw = 0;
  let gz = 0;
  for (let r = 0; r < RUNS; r++) {
    globalThis.gc?.();
    const t0 = process.hrtime.bigint();
    const bodies = enc(points, now, 1 << 20);
    raw = 0;
    gz = 0;
    for (const b of bodies) {
      raw += b.data.length;
      gz += zlib.gzipSync(b.data, { level: 3 }).length;
    }
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    rates.push(points.length / s);
  }
  return { label, pointsPerSec: Math.round(median(rates)), bytesPerPoint: Math.round(raw / points.length), gzipRatio: (raw / gz).toFixed(1) };
}

const rows = [];
for (const [kind, pts] of [['metric', metricPoints()], ['logging', logPoints()]]) {
  rows.push(measure(`${kind} v1 line protocol + gzip`, pts, encodeV1));
  rows.push(measure(`${kind} v2 protobuf + gzip`, pts, encodeV2));
}
console.log('| case | points/s (median of 7) | raw bytes/point | gzip ratio |');
console.log('|---|---|---|---|');
for (const r of rows) console.log(`| ${r.label} | ${r.pointsPerSec.toLocaleString('en-US')} | ${r.bytesPerPoint} | ${r.gzipRatio} |`);
for (const kind of ['metric', 'logging']) {
  const v1 = rows.find((r) => r.label.startsWith(`${kind} v1`));
  const v2 = rows.find((r) => r.label.startsWith(`${kind} v2`));
  console.log(`${kind}: v1/v2 = ${(v1.pointsPerSec / v2.pointsPerSec).toFixed(2)}x`);
}
