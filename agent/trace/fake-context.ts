/**
 * Moved to test/helpers/fake-context.ts. This re-export stays only until
 * bench/traces/run.mjs imports `dist/test/helpers/fake-context.js`; delete it then.
 */
export { fakeContext, metricValue as counterValue, type FakeContext } from '../../test/helpers/fake-context.js';
