/**
 * Builds a large, realistic Prometheus exposition: labelled counters and gauges
 * (kube-state-metrics / cAdvisor style) and histograms (istio style).
 */
export function makeExposition(targetSamples = 200_000) {
  const lines = [];
  let n = 0;
  const pods = Math.max(1, Math.floor(targetSamples / 40));
  lines.push('# HELP container_cpu_usage_seconds_total Cumulative cpu time consumed.');
  lines.push('# TYPE container_cpu_usage_seconds_total counter');
  for (let i = 0; i < pods && n < targetSamples; i++, n++)
    lines.push(`container_cpu_usage_seconds_total{container="app-${i % 7}",cpu="total",id="/kubepods/burstable/pod${i}",image="registry.example.com/team/app:1.${i % 13}",name="k8s_app_${i}",namespace="ns-${i % 11}",pod="app-${i}-7c9d8f6b5-x${i % 97}"} ${(i * 13.37).toFixed(3)}`);
  lines.push('# TYPE container_memory_working_set_bytes gauge');
  for (let i = 0; i < pods && n < targetSamples; i++, n++)
    lines.push(`container_memory_working_set_bytes{container="app-${i % 7}",namespace="ns-${i % 11}",pod="app-${i}-7c9d8f6b5-x${i % 97}"} ${1e6 + i * 4096}`);
  lines.push('# TYPE istio_request_duration_milliseconds histogram');
  const les = ['0.5', '1', '5', '10', '25', '50', '100', '250', '500', '1000', '2500', '5000', '10000', '30000', '+Inf'];
  for (let i = 0; n < targetSamples; i++) {
    const l = `app="svc-${i % 50}",pod="svc-${i % 50}-5d8f9c7b6-${i}",destination_service="svc-${(i * 7) % 50}.ns.svc.cluster.local",response_code="${[200, 404, 500][i % 3]}",reporter="destination"`;
    let c = 0;
    for (const le of les) {
      c += i % 5;
      lines.push(`istio_request_duration_milliseconds_bucket{${l},le="${le}"} ${c}`);
    }
    lines.push(`istio_request_duration_milliseconds_sum{${l}} ${c * 12.5}`);
    lines.push(`istio_request_duration_milliseconds_count{${l}} ${c}`);
    n += les.length + 2;
  }
  return { text: lines.join('\n') + '\n', samples: n };
}
