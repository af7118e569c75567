/** Test helpers: write container log files the way kubelet/containerd and docker do. */
import fs from 'node:fs';
import path from 'node:path';

/** One CRI line (with `\n`). */
export function cri(message: string, stream: 'stdout' | 'stderr' = 'stdout', tag: 'F' | 'P' = 'F', time = new Date()): string {
  return `${time.toISOString().replace('Z', '123456Z')} ${stream} ${tag} ${message}\n`;
}

/** One docker json-file line (with `\n`). */
export function dockerLine(message: string, stream = 'stdout', time = new Date()): string {
  return JSON.stringify({ log: message + '\n', stream, time: time.toISOString() }) + '\n';
}

export class PodLogs {
  constructor(readonly root: string) {}

  dir(namespace: string, pod: string, container: string, uid = `uid-${pod}`): string {
    const d = path.join(this.root, `${namespace}_${pod}_${uid}`, container);
    fs.mkdirSync(d, { recursive: true });
    return d;
  }

  /** Appends CRI lines `${prefix}${i}` for i in [from, to). */
  appendLines(file: string, prefix: string, from: number, to: number, stream: 'stdout' | 'stderr' = 'stdout'): void {
    let s = '';
    for (let i = from; i < to; i++) s += cri(`${prefix}${i}`, stream);
    fs.appendFileSync(file, s);
  }
}

export function containerConf(root: string, extra = ''): string {
  return `[inputs.container]
enable_container_metric = false
enable_pod_metric = false
enable_k8s_metric = false
pod_logs_dir = ${JSON.stringify(root)}
docker_logs_dir = ${JSON.stringify(path.join(root, '_docker'))}
logging_search_interval = "200ms"
${extra}
`;
}
