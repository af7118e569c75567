// The inputs `npm start` runs from conf.d/ on a workstation (no Kubernetes needed).
export const DEFAULT_ON = ['cpu', 'ddtrace', 'disk', 'diskio', 'hostobject', 'mem', 'net', 'statsd', 'swap', 'system', 'zipkin'];
