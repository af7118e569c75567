// bench/k8s: pod discovery cost. For a node (110 pods) and a cluster-wide list (5,000 pods):
// time and CPU to the first list (synced) and per watch event, for telekit's K8sPodWatcher,
// client-node's own informer (peer) and bare fetch + JSON.parse (floor). The API server runs
// in a child process, so only the client's CPU is counted.
// Run: npm run build && node --expose-gc bench/k8s/run.mjs
import { fork } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { CoreV1Api, KubeConfig, makeInformer } from '@kubernetes/client-node';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { K8sPodWatcher } from '../../dist/agent/services/k8s/pod-watcher.js';

const RUNS = Number(process.env.RUNS ?? 5);
const EVENTS = 10_000;
const log = pino({ level: 'silent' });
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function startServer(pods) {
  const child = fork(new URL('./server.mjs', import.meta.url), { env: { ...process.env, PODS: String(pods), EVENTS: String(EVENTS) } });
  const info = await new Promise((r) => child.once('message', r));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'b', server: `http://127.0.0.1:${info.port}`, skipTLSVerify: true }],
    users: [{ name: 'b', token: 't' }],
    contexts: [{ name: 'b', cluster: 'b', user: 'b' }],
    currentContext: 'b',
  });
  return { child, kc, url: `http://127.0.0.1:${info.port}`, info };
}

function meter() {
  const t = process.hrtime.bigint();
  const c = process.cpuUsage();
  return () => {
    const u = process.cpuUsage(c);
    return { wallMs: Number(process.hrtime.bigint() - t) / 1e6, cpuMs: (u.user + u.system) / 1000 };
  };
}

async function until(fn) {
  while (!fn()) await new Promise((r) => setImmediate(r));
}

async function telekit(kc, pods) {
  let updates = 0;
  const w = new K8sPodWatcher({ kubeConfig: kc, nodeName: '', log, metrics: new Registry() });
  w.subscribe((ev) => ev.type === 'update' && updates++);
  const m1 = meter();
  w.start();
  await w.synced();
  const list = m1();
  const m2 = meter();
  await until(() => updates >= EVENTS);
  const watch = m2();
  await w.stop();
  if (w.list().length !== pods) throw new Error('telekit: wrong pod count');
  return { list, watch };
}

async function informer(kc, pods) {
  const core = kc.makeApiClient(CoreV1Api);
  let updates = 0;
  let list;
  let m2;
  const m1 = meter();
  // the watch meter starts the moment the list is in, as for telekit (synced) and the floor
  const inf = makeInformer(kc, '/api/v1/pods', () => core.listPodForAllNamespaces().then((r) => ((list = m1()), (m2 = meter()), r)));
  inf.on('update', () => updates++);
  await inf.start();
  await until(() => updates >= EVENTS);
  const watch = m2();
  await inf.stop();
  if (inf.list().length !== pods) throw new Error('informer: wrong pod count');
  return { list, watch };
}

async function floor(url, pods) {
  const m1 = meter();
  const body = await (await fetch(`${url}/api/v1/pods`)).json();
  const list = m1();
  if (body.items.length !== pods) throw new Error('floor: wrong pod count');
  const ctl = new AbortController();
  const res = await fetch(`${url}/api/v1/pods?watch=true&resourceVersion=${pods}`, { signal: ctl.signal });
  const m2 = meter();
  let n = 0;
  const stream = Readable.fromWeb(res.body).on('error', () => {});
  const rl = createInterface(stream).on('error', () => {});
  for await (const line of rl) {
    JSON.parse(line);
    if (++n >= EVENTS) break;
  }
  const watch = m2();
  ctl.abort();
  return { list, watch };
}

for (const pods of [110, 5000]) {
  const { child, kc, url, info } = await startServer(pods);
  const results = { telekit: [], 'client-node informer (peer)': [], 'fetch + JSON.parse (floor)': [] };
  for (let r = 0; r < RUNS; r++) {
    globalThis.gc?.();
    results['fetch + JSON.parse (floor)'].push(await floor(url, pods));
    globalThis.gc?.();
    results['client-node informer (peer)'].push(await informer(kc, pods));
    globalThis.gc?.();
    results.telekit.push(await telekit(kc, pods));
  }
  console.log(`\n${pods} pods (list ${(info.listBytes / 2 ** 20).toFixed(2)} MiB), ${EVENTS} MODIFIED events (${(info.eventBytes / 2 ** 20).toFixed(1)} MiB); median of ${RUNS}`);
  console.log('| client | list: wall ms | list: CPU ms | watch: µs CPU / event | watch: events/s |');
  console.log('|---|---|---|---|---|');
  for (const [name, rs] of Object.entries(results)) {
    const lw = median(rs.map((x) => x.list.wallMs));
    const lc = median(rs.map((x) => x.list.cpuMs));
    const wc = median(rs.map((x) => x.watch.cpuMs));
    const ww = median(rs.map((x) => x.watch.wallMs));
    console.log(`| ${name} | ${lw.toFixed(1)} | ${lc.toFixed(1)} | ${((wc * 1000) / EVENTS).toFixed(1)} | ${Math.round(EVENTS / (ww / 1000))} |`);
  }
  child.disconnect();
  child.kill();
}
process.exit(0);
