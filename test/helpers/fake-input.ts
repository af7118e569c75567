/** A test-only input: emits one metric point per start and records its lifecycle. */
import type { InputDefinition } from '../../agent/input/contract.js';
import { object, int, str, list, duration, bool, tags } from '../../agent/config/schema.js';

const schema = object({
  value: int(1, { min: 0 }),
  label: str('x'),
  names: list(str(), []),
  interval: duration('1s'),
  verbose: bool(false),
  tags: tags(),
});

export const lifecycle: { starts: string[]; stops: string[] } = { starts: [], stops: [] };

export const fakeInput: InputDefinition<typeof schema extends { parse: (...a: never[]) => infer T } ? NonNullable<T> : never> = {
  name: 'fake',
  description: 'test input',
  schema,
  create(config, ctx) {
    const id = `${config.label}:${config.value}`;
    return {
      async start() {
        lifecycle.starts.push(id);
        ctx.acc.add({ category: 'metric', name: 'fake', tags: { label: config.label }, fields: { value: config.value } });
      },
      async stop() {
        lifecycle.stops.push(id);
      },
    };
  },
};
