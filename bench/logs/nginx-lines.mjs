// nginx access (9 in 10) and error lines, of the shapes DataKit's nginx.p parses: shared by
// bench/logs/run.mjs --nginx and bench/logs/script-micro.mjs, so both measure the same lines.
export function nginxLine(rnd, i, t0) {
  const d = new Date(t0 + i * 7);
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getUTCMonth()];
  const p2 = (n) => String(n).padStart(2, '0');
  if (rnd(10) === 0) {
    return `${d.getUTCFullYear()}/${p2(d.getUTCMonth() + 1)}/${p2(d.getUTCDate())} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} [${['error', 'warn', 'alert'][rnd(3)]}] ${rnd(90) + 10}#0: *${rnd(100000)} upstream timed out (110: Connection timed out) while reading response header from upstream, client: 10.${rnd(250)}.${rnd(250)}.${rnd(250)}, server: shop.example.com, request: "GET /api/v1/items/${rnd(99999)} HTTP/1.1", upstream: "http://10.0.3.${rnd(250)}:8080/api/v1/items", host: "shop.example.com"`;
  }
  const uas = [
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
    'curl/8.5.0',
    'Go-http-client/1.1',
  ];
  const code = [200, 200, 200, 200, 301, 304, 404, 500, 502][rnd(9)];
  return `10.${rnd(250)}.${rnd(250)}.${rnd(250)} - - [${p2(d.getUTCDate())}/${mon}/${d.getUTCFullYear()}:${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} +0000] "${['GET', 'GET', 'POST', 'PUT'][rnd(4)]} /api/v1/items/${rnd(99999)}?page=${rnd(50)} HTTP/1.1" ${code} ${rnd(20000)} "https://shop.example.com/list?q=${rnd(1000)}" "${uas[rnd(uas.length)]}"`;
}

/**
 * The micro-benchmarks' sample: n messages drawn as run.mjs --nginx draws them (seeded), in one buffer with
 * each message's end offset, and a container's tags, frozen and shared by a stream's lines as the input gives them.
 */
export function nginxSample(n = 1000) {
  let seed = 12345;
  const rnd = (k) => ((seed = (seed * 1103515245 + 12345) >>> 0) % k);
  const t0 = Date.parse('2024-05-01T10:00:00Z');
  const msgs = [];
  for (let i = 0; i < n; i++) {
    msgs.push(nginxLine(rnd, i, t0));
    rnd(10); // run.mjs draws the stream here
  }
  const buf = Buffer.from(msgs.join(''));
  const ends = [];
  let o = 0;
  for (const m of msgs) ends.push((o += Buffer.byteLength(m)));
  return { msgs, buf, ends };
}

export const streamTags = Object.freeze({ host: 'bench', container_name: 'nginx', namespace: 'default', pod_name: 'bench_pod-0', service: 'nginx', image: 'nginx:1', container_id: 'abc', container_type: 'kubernetes', pod_ip: '10.0.0.1', deployment: 'x', node_name: 'b' });
