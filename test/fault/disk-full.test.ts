/**
 * Issue 16 (smaller): batches dropped because the disk buffer's file system is
 * full (ENOSPC) are counted as `disk_full`, not `retries_exhausted`, so an
 * operator can tell a full disk from a dataway that is down.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import fs from 'node:fs';
import { pino } from 'pino';
import { Sender } from '../../agent/delivery/sender.js';
import { CoreMetrics } from '../../agent/telemetry/metrics.js';
import { DiskBuffer, bufferSettingsFromEnv } from '../../agent/delivery/buffer/disk-buffer.js';
import { DiskQueue } from '../../agent/delivery/buffer/disk-queue.js';
import type { SendResult, Sink } from '../../agent/delivery/sinks/types.js';
import { tempDir } from '../helpers/agent.js';
import { waitFor } from '../helpers/wait.js';

const down: Sink = {
  name: 'dataway[0]',
  accepts: () => true,
  send: async (): Promise<SendResult> => ({ ok: false, retryable: true, reason: 'HTTP 503' }),
  close: async () => undefined,
};

afterEach(() => vi.restoreAllMocks());

describe('disk buffer on a full file system', () => {
  it('counts the dropped points as disk_full', async () => {
    const dir = tempDir('telekit-enospc-');
    const metrics = new CoreMetrics(false);
    const log = pino({ level: 'silent' });
    const buffer = new DiskBuffer({ settings: bufferSettingsFromEnv({}, dir), metrics: metrics.registry, log, minRetryMs: 5, maxRetryMs: 10 });
    vi.spyOn(DiskQueue.prototype, 'append').mockRejectedValue(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
    const sender = new Sender({ sinks: [down], metrics, log, flushIntervalMs: 60_000, maxCacheCount: 10, queueCapacity: 1000, queueMaxBytes: 1 << 20, maxRetry: 2, retryDelayMs: 1, concurrency: 1, spill: buffer });
    expect(sender.offer('metric', Array.from({ length: 10 }, (_, i) => ({ category: 'metric' as const, name: 'm', tags: {}, fields: { v: i } })))).toBe(10);
    const dropped = async (reason: string) => (await metrics.dropped.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
    await waitFor(async () => (await dropped('disk_full')) === 10, { what: 'disk_full drops' });
    expect(await dropped('retries_exhausted')).toBe(0);
    await sender.close(100);
    await buffer.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
