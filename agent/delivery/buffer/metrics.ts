/**
 * Disk buffer self-metrics, created once per prom-client registry (several
 * queues, one per sink and category, share them through the `queue` label).
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export interface BufferMetrics {
  bytes: Gauge<'queue'>;
  records: Gauge<'queue'>;
  appended: Counter<'queue'>;
  acked: Counter<'queue'>;
  dropped: Counter<'queue' | 'reason'>;
  corrupt: Counter<'queue'>;
}

const byRegistry = new WeakMap<Registry, BufferMetrics>();

export function bufferMetrics(registry: Registry): BufferMetrics {
  let m = byRegistry.get(registry);
  if (m) return m;
  const registers = [registry];
  m = {
    bytes: new Gauge({ name: 'telekit_buffer_bytes', help: 'Unacknowledged bytes in the disk buffer', labelNames: ['queue'], registers }),
    records: new Gauge({ name: 'telekit_buffer_records', help: 'Unacknowledged records (batches) in the disk buffer', labelNames: ['queue'], registers }),
    appended: new Counter({ name: 'telekit_buffer_appended_records_total', help: 'Records written to the disk buffer', labelNames: ['queue'], registers }),
    acked: new Counter({ name: 'telekit_buffer_acked_records_total', help: 'Records replayed and acknowledged', labelNames: ['queue'], registers }),
    dropped: new Counter({ name: 'telekit_buffer_dropped_records_total', help: 'Records the disk buffer refused or deleted (reason: full, oldest, too_large, expired)', labelNames: ['queue', 'reason'], registers }),
    corrupt: new Counter({ name: 'telekit_buffer_corrupt_records_total', help: 'Torn or corrupt records skipped while reading the disk buffer', labelNames: ['queue'], registers }),
  };
  byRegistry.set(registry, m);
  return m;
}
