import { describe, expect, it } from 'vitest';
import { validate } from '../../agent/config/schema.js';
import { container } from './index.js';
import { fakeCtx } from './testdata/fake-context.js';

describe('container input definition', () => {
  it('is a singleton whose stop is safe without start and idempotent', async () => {
    expect(container.singleton).toBe(true);
    const r = validate(container.schema, { enable_container_metric: false, enable_pod_metric: false, enable_k8s_metric: false, pod_logs_dir: '/nonexistent-telekit' });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const ctx = fakeCtx();
    const input = container.create(r.value, ctx);
    await input.stop();
    await input.start();
    await input.stop();
    await input.stop();
    expect(ctx.errors).toEqual([]);
  });
});
