/**
 * Issue 16, case 7: credentials in URL user-info and credential-like query
 * parameters never show in logs, /v1/stats or /metrics — the dataway URL,
 * ENV_OTLP_TRACES_ENDPOINT and prom targets alike, failures included.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { TestDataway } from '../helpers/dataway.js';
import { waitFor } from '../helpers/wait.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

const SECRETS = ['DwPassS3cret', 'tkn_DwT0ken0123', 'OtlpPassS3cret', 'OtlpKeyS3cret', 'PromPassS3cret', 'PromT0kenS3cret'];

describe('URL credentials are redacted everywhere', () => {
  it('http://u:secret@host?token=… (dataway, OTLP endpoint, prom target) appears in no log line, /v1/stats or /metrics', async () => {
    const dw = await TestDataway.start('tkn_DwT0ken0123');
    cleanups.push(() => dw.close());
    let text = '';
    const log = pino({ level: 'debug' }, new Writable({ write: (c: Buffer, _e, cb) => ((text += c.toString()), cb()) }));
    const dwUrl = dw.url.replace('http://', 'http://dwuser:DwPassS3cret@');
    const t: TestAgent = await startTestAgent({
      dataway: dw,
      env: {
        // the second dataway is unreachable: its failures are logged
        ENV_DATAWAY: `${dwUrl},http://dwuser:DwPassS3cret@127.0.0.1:9/?token=tkn_DwT0ken0123`,
        ENV_DATAWAY_MAX_RETRY_COUNT: '1',
        ENV_DATAWAY_RETRY_DELAY: '20ms',
        ENV_OTLP_TRACES_ENDPOINT: 'http://otlp:OtlpPassS3cret@127.0.0.1:9/v1/traces?api_key=OtlpKeyS3cret',
        ENV_OTLP_TRACES_TIMEOUT: '500ms',
      },
      conf: { 'prom/prom.conf': '[[inputs.prom]]\nurls = ["http://prom:PromPassS3cret@127.0.0.1:9/metrics?format=x&token=PromT0kenS3cret"]\ninterval = "100ms"\n' },
      extra: { log },
    });
    cleanups.push(() => t.stop());
    // Traffic to every sink, the OTLP one failing; the prom target failing.
    for (const cat of ['metric', 'tracing']) {
      const body = cat === 'tracing' ? 'span,service=s trace_id="1",span_id="2",start=1i,duration=1i,resource="r",operation="o" 1\n' : 'm v=1\n';
      expect((await fetch(`${t.url}/v1/write/${cat}`, { method: 'POST', body })).status).toBe(200);
    }
    await dw.waitForPoints('metric', 1);
    await waitFor(() => /Scrape failed/.test(text) && /otlp|127\.0\.0\.1:9/.test(text) && /OTLP/.test(text), { what: 'scrape, dataway and OTLP log lines', timeoutMs: 15_000 });
    const answers = await Promise.all(['/v1/stats', '/metrics', '/v1/ping'].map(async (p) => (await fetch(t.url + p)).text()));
    await t.stop();
    const all = [text, ...answers].join('\n');
    for (const s of SECRETS) expect(all).not.toContain(s);
    // The agent did talk about them, redacted.
    expect(text).toMatch(/otlp:\/\/|\*\*\*@127\.0\.0\.1:9\/v1\/traces\?api_key=\*\*\*/);
    expect(text).toContain('http://***@127.0.0.1:9/metrics?format=x&token=***');
  }, 30_000);
});
