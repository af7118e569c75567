import { describe, expect, it } from 'vitest';
import { PipelineError } from './errors.js';
import { backtrackGuard, compileGrok } from './grok/compile.js';
import { Script } from './script.js';
import { parseTimeText, parseZone } from './timeparse.js';

const load = (src: string) => Script.compile('t.p', 't.p', src);
const loadError = (src: string): PipelineError => {
  try {
    load(src);
  } catch (e) {
    if (e instanceof PipelineError) return e;
    throw e;
  }
  throw new Error('expected a load error');
};

/** CPU time of this process (ms): what a synchronous run costs, whatever else runs on a loaded box (wall time is not). */
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

describe('load errors carry file:line:col', () => {
  it('syntax error', () => {
    const e = loadError('grok(_, "%{INT:a}")\nif a == 1 {\n  add_key(b, 2\n}\n');
    expect(e.message).toBe('t.p:4:1: expected "," or ")", found "}"');
  });
  it('unterminated string', () => {
    expect(loadError('x = 1\n  y = "abc\n').message).toBe('t.p:2:7: unterminated string');
  });
  it('unknown function is a load error, not a no-op', () => {
    expect(loadError('json(_, a)\n  no_such_fn(a)\n').message).toBe('t.p:2:3: unknown function no_such_fn()');
  });
  it('bad grok pattern and unknown grok pattern', () => {
    expect(loadError('grok(_, "%{NOPE:x}")').message).toBe('t.p:1:9: no pattern found for %{NOPE}');
    expect(loadError('\ngrok(_, "(%{INT:x}")').message).toMatch(/^t\.p:2:9: invalid grok pattern: .*Unterminated group/);
  });
  it('a bad regular expression of replace() or match() is a load error', () => {
    expect(loadError('replace(a, "([0-9]", "x")').message).toMatch(/^t\.p:1:12: invalid regular expression: .*Unterminated group/);
    expect(loadError('x = match(a, "b")').message).toBe('t.p:1:11: the regular expression must be a string literal');
  });
  it('a pattern added in another branch is not visible', () => {
    expect(loadError('if true {\n add_pattern("cc", "x")\n} else {\n grok(_, "%{cc:c}")\n}').message).toBe('t.p:4:10: no pattern found for %{cc}');
  });
  it('argument counts and named arguments are checked', () => {
    expect(loadError('cast(a)').message).toBe('t.p:1:1: cast() needs its type argument');
    expect(loadError('drop(1)').message).toBe('t.p:1:6: drop() takes at most 0 arguments');
    expect(loadError('json(_, a, nope = true)').message).toBe('t.p:1:19: json() has no parameter nope');
    expect(loadError('cast(a, "number")').message).toBe('t.p:1:9: cast type must be "str", "int", "float" or "bool"');
  });
  it('function names are case-insensitive, as in DataKit', () => {
    const r = load('GROK(_, "%{INT:n}")\nCast(n, "int")').run('42');
    expect(r.ok && r.out.fields.get('n')).toBe(42n);
  });
});

describe('run time', () => {
  it('a failing line is reported, the script keeps counting', () => {
    const s = load('grok(_, "%{WORD:w}")\nx = w + 1');
    const r = s.run('hello');
    expect(r.ok).toBe(false);
    expect(s.run('again').ok).toBe(false);
    expect(s.stats).toMatchObject({ lines: 2, failed: 2, timedOut: 0 });
  });
  it('catastrophic backtracking is bounded (V8 falls back to its linear engine)', () => {
    const s = load('grok(_, "^(%{WORD}|a)+b$")');
    const t0 = cpuMs();
    const r = s.run('a'.repeat(5000) + '!');
    expect(r.ok).toBe(true);
    expect(cpuMs() - t0).toBeLessThan(2000);
  });
  it('a long line with a quadratic pattern and invalid UTF-8 does not stall; a longer one is not run', () => {
    const s = load('grok(_, "%{GREEDYDATA:a}=%{GREEDYDATA:b};%{INT:n}")');
    const line = (n: number) => Buffer.concat([Buffer.from('k'.repeat(n)), Buffer.from([0xff, 0xfe]), Buffer.from('=v' + 'w'.repeat(n) + ';x')]).toString('utf8');
    const t0 = cpuMs();
    const r = s.run(line(30_000));
    expect(cpuMs() - t0).toBeLessThan(4000); // ~5 s without the fallback limit (quadratic), ~0.3 s with it
    expect(r.ok && r.out.fields.has('a')).toBe(false); // no match (";x" is not an INT): the line as it was
    const t1 = cpuMs();
    const long = s.run(line(200_000));
    expect(cpuMs() - t1).toBeLessThan(50);
    expect(long).toMatchObject({ ok: false, timedOut: true });
    expect(s.stats).toMatchObject({ lines: 2, failed: 0 });
    expect(s.stats.timedOut).toBeGreaterThanOrEqual(1); // the first too when it ran past 100 ms (a loaded box)
  });

  it('a loop past the time bound aborts the line and counts it', () => {
    const s = Script.compile('t.p', 't.p', 'n = 0\nfor x in [1,2,3] {\n  for y in [1,2,3] { n = n + 1 }\n}', { timeBoundMs: -1 });
    const r = s.run('x');
    expect(r.ok).toBe(false);
    expect(s.stats.timedOut).toBe(1);
  });
  it('grok compiles to one RegExp with numbered groups, a key may repeat', () => {
    const g = compileGrok('(?:%{INT:n}|x=%{WORD:n})');
    expect(g.captures.map((c) => c?.key)).toEqual(['n', 'n']);
    const s = load('grok(_, "(?:%{INT:n}|x=%{WORD:n})")');
    const r = s.run('x=abc');
    expect(r.ok && r.out.fields.get('n')).toBe('abc');
  });
  it("grok's unnamed groups compile as non-capturing: one capture per key", () => {
    // DataKit's YEAR is `(\d\d){1,2}`: an unnamed group inside; `(a|b)` only groups
    const g = compileGrok('%{YEAR:y}-(a|b)-%{NOTSPACE}');
    expect(g.captures.map((c) => c?.key)).toEqual(['y']);
    expect(new RegExp(g.re.source + '|').exec('')!.length).toBe(2);
    const r = load('grok(_, "%{YEAR:y}-(a|b)-%{NOTSPACE:rest}")').run('on 2024-b-xyz');
    expect(r.ok && Object.fromEntries(r.out.fields)).toEqual({ message: 'on 2024-b-xyz', y: '2024', rest: 'xyz' });
  });
  it('time text without a zone is read in the default zone', () => {
    expect(parseTimeText('2021/04/29 16:24:38', parseZone('+08:00'))).toBe(1619684678000000000n);
    expect(parseTimeText('2021/04/29 16:24:38', parseZone('UTC'))).toBe(1619713478000000000n);
    expect(parseTimeText('nonsense', parseZone('UTC'))).toBeUndefined();
  });
});

describe('grok prefilter', () => {
  it('finds the literals every match needs, and none under a top-level alternation', async () => {
    const { requiredLiterals } = await import('./grok/compile.js');
    expect(requiredLiterals('%{NOTSPACE:ip} %{NOTSPACE} \\[%{HTTPDATE:time}\\] "%{DATA:m} %{GREEDYDATA:u} HTTP/%{NUMBER:v}" %{INT:c}').sort()).toEqual([' HTTP/', ' [', '" ', '] "'].sort());
    expect(requiredLiterals('%{date2:time} \\[%{LOGLEVEL:s}\\] %{GREEDYDATA:msg}, client: %{NOTSPACE:c}, (upstream: "%{GREEDYDATA:u}", )?host: "%{NOTSPACE:h}"')).toEqual(expect.arrayContaining([', client: ', 'host: "', '] ']));
    expect(requiredLiterals('abc|def')).toEqual([]);
    expect(requiredLiterals('ab?c\\d+xy')).toEqual(['xy']);
    expect(requiredLiterals('(?i)abc')).toEqual(['abc']);
  });
});

describe("the point's own tags", () => {
  it('are read as keys; writes to them stay tags; drop_key and rename move them', () => {
    const s = load('if namespace == "prod" { add_key(env, "production") }\nservice = "x"\nset_tag(service, "web-" + pod_name)\ndrop_key(pod_ip)\nrename(node, node_name)\ngrok(_, "%{WORD:stream}")');
    const r = s.run('stderr', Object.freeze({ namespace: 'prod', pod_name: 'web-1', service: 'web', pod_ip: '10.0.0.1', node_name: 'n1', stream: 'stdout' }));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.out.fields.get('env')).toBe('production');
    expect(Object.fromEntries(r.out.tags!)).toEqual({ service: 'web-web-1', node: 'n1', stream: 'stderr' });
    expect([...r.out.droppedTags!].sort()).toEqual(['node_name', 'pod_ip']);
    expect(r.out.fields.has('stream')).toBe(false);
  });

  it('a grok key is a tag on the streams that have it and a field on the others, line after line', () => {
    // one call site, two streams' tags objects alternating: which keys are tags is cached per object
    const s = load('grok(_, "%{WORD:stream} %{WORD:user}")\nuser_agent(ua)');
    const withStream = Object.freeze({ stream: 'stdout', ua: 'curl/8.0' });
    const without = Object.freeze({ pod_name: 'p', ua: 'curl/8.0' });
    for (const [tags, isTag] of [[without, false], [withStream, true], [undefined, false], [without, false], [withStream, true]] as const) {
      const r = s.run('stderr bob', tags);
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      expect(r.out.fields.get('user')).toBe('bob');
      expect(r.out.fields.has('stream')).toBe(!isTag);
      expect(r.out.tags?.get('stream')).toBe(isTag ? 'stderr' : undefined);
      expect(r.out.fields.get('isBot')).toBe(tags !== undefined ? true : undefined);
    }
    // a tag the script dropped before grok: the capture is a field again, as with set()
    const d = load('drop_key(stream)\ngrok(_, "%{WORD:stream}")').run('stderr', withStream);
    expect(d.ok && d.out.fields.get('stream')).toBe('stderr');
    expect(d.ok && d.out.tags?.get('stream')).toBe(undefined);
  });
});

describe('functions with constant arguments compiled once', () => {
  it('cast(…, "int") gives the same integers for digits alone as for any other text', () => {
    const cases: [string, bigint][] = [
      ['007', 7n],
      [' 12 ', 12n],
      ['+5', 5n],
      ['-3', -3n],
      ['1e3', 1000n],
      ['999999999999999', 999999999999999n],
      ['12345678901234567', 12345678901234567n],
      ['abc', 0n],
      ['', 0n],
      ['4.7', 4n],
    ];
    for (const [text, want] of cases) {
      const f = load(`add_key(v, ${JSON.stringify(text)})\ncast(v, "int")`).run('m');
      expect(f.ok && f.out.fields.get('v')).toBe(want);
    }
  });

  it('nullif with a literal drops a field, or the point’s own tag, only when equal', () => {
    const s = load('nullif(a, "-")\nnullif(pod, "p1")\nnullif(n, 3)');
    const r = s.run('m', Object.freeze({ pod: 'p1', a: 'x' }));
    expect(r.ok && [...r.out.droppedTags!]).toEqual(['pod']);
    const r2 = load('add_key(a, "-")\nadd_key(b, "-")\nadd_key(n, 3)\nnullif(a, "-")\nnullif(n, 3)\nnullif(b, "+")').run('m', Object.freeze({ pod: 'p2' }));
    expect(r2.ok && [...r2.out.fields.keys()]).toEqual(['message', 'b']);
    expect(r2.ok && r2.out.droppedTags).toBe(undefined);
  });

  it('group_in and group_between with literal lists and ranges', () => {
    for (const [s0, c, want] of [
      ['warn', 250n, { s: 'warning', c: 250n, u: 'OK' }],
      ['error', 399n, { s: 'error', c: 399n, t: 'E', u: 'redir' }],
      ['x', 299.5, { s: 'x', c: 299.5 }],
    ] as const) {
      const both = load(`add_key(s, ${JSON.stringify(s0)})\nadd_key(c, ${c})\ngroup_in(s, ["warn", "notice"], "warning")\ngroup_in(s, ["error", 3], "E", t)\ngroup_between(c, [200, 299], "OK", u)\ngroup_between(c, [300, 399.5], "redir", u)`).run('m');
      expect(both.ok && Object.fromEntries([...both.out.fields].filter(([k]) => k !== 'message'))).toEqual(want);
    }
  });
});

describe('two grok() calls over one input, the second writing every key of the first (nginx.p), run as one', () => {
  // `y = 1` between the calls keeps them apart: the reference is the script's order, call by call
  const pair = (a: string, b: string, between = '') => `grok(_, ${JSON.stringify(a)})\n${between}grok(_, ${JSON.stringify(b)})\n`;
  const cases: [string, string, string[]][] = [
    // the second repeats the first and adds keys: it matches (first skipped), or only the first does
    ['%{INT:a} %{WORD:b}', '%{INT:a} %{WORD:b} %{WORD:c}', ['1 x y', '1 x', 'no', '  7 q r  ']],
    // the first's key in an optional group of the second: when it does not take part, both run
    ['%{INT:a}-%{WORD:b}', '(%{INT:a}-)?%{WORD:b}!%{WORD:c}', ['1-x!y', 'x!y', '1-x', '-x!y']],
    // typed captures, a key the second writes in another type, and the second's keys in another order
    ['%{INT:a:int} %{WORD:b}', '%{WORD:c}=%{WORD:b} %{INT:a}', ['k=v 5', '5 v', '5 v k=w 6']],
  ];
  for (const [a, b, lines] of cases) {
    it(`${a} then ${b}`, () => {
      const fused = load(pair(a, b));
      const apart = load(pair(a, b, 'y = 1\n'));
      // a key of the point's own tags written by both calls stays a tag, as call by call
      for (const tags of [undefined, { b: 'tag', service: 's' }]) {
        for (const line of lines) {
          const x = fused.run(line, tags);
          const y = apart.run(line, tags);
          expect(x.ok && y.ok).toBe(true);
          if (!x.ok || !y.ok) continue;
          expect([...x.out.fields]).toEqual([...y.out.fields]);
          expect([...(x.out.tags ?? [])]).toEqual([...(y.out.tags ?? [])]);
        }
      }
    });
  }
  it('nginx.p: the access line sets the second pattern\'s keys, an error line the error pattern\'s', () => {
    const s = load(
      'add_pattern("access_common", "%{NOTSPACE:client_ip} %{NOTSPACE:http_ident} \\\\[%{HTTPDATE:time}\\\\] \\"%{DATA:http_method} %{GREEDYDATA:http_url} HTTP/%{NUMBER:http_version}\\" %{INT:status_code}")\n' +
        'grok(_, "%{access_common}")\n' +
        'add_pattern("x", "y")\n' +
        'grok(_, \'%{access_common} "%{NOTSPACE:referrer}"\')\n',
    );
    const r = s.run('1.2.3.4 - [01/May/2024:10:00:00 +0000] "GET /a HTTP/1.1" 200 "ref"');
    expect(r.ok && [...r.out.fields.keys()]).toEqual(['message', 'client_ip', 'http_ident', 'time', 'http_method', 'http_url', 'http_version', 'status_code', 'referrer']);
    const r2 = s.run('1.2.3.4 - [01/May/2024:10:00:00 +0000] "GET /a HTTP/1.1" 200');
    expect(r2.ok && r2.out.fields.get('status_code')).toBe('200');
    expect(r2.ok && r2.out.fields.has('referrer')).toBe(false);
  });
});

describe('a backtracking pattern tried on its tail first (backtrackGuard)', () => {
  const patterns = [
    '%{DATA:m} %{GREEDYDATA:u} HTTP/%{NUMBER:v}", host: "%{NOTSPACE:h}"',
    '%{GREEDYDATA:a}, client: %{NOTSPACE:c}, request: "%{DATA:m} %{GREEDYDATA:u} HTTP/%{NUMBER:v}"(, upstream: "%{GREEDYDATA:up}")?',
    '(?i)%{DATA:a}=%{GREEDYDATA:b} END%{INT:n}$',
    '%{DATA:a}[|]%{GREEDYDATA:b}\\(x\\)?%{WORD:w}',
  ];
  const lines = [
    'GET /a b HTTP/1.1", host: "h"',
    'GET /a b HTTP/1.1", upstream: "u", host: "h"',
    'oops, client: 1.2.3.4, request: "GET /x HTTP/1.0", upstream: "http://u"',
    'oops, client: 1.2.3.4, request: "GET /x HTTP/1.0"',
    'k=v w end42',
    'k=v w END4x',
    'a|b(x)word',
    'a|b(x)',
    '',
  ];
  it('is a necessary condition: every line the pattern matches passes it', () => {
    let guarded = 0;
    for (const p of patterns) {
      const g = compileGrok(p);
      const guard = backtrackGuard(g.source, g.flags);
      if (guard === undefined) continue;
      guarded++;
      for (const l of lines) if (g.re.test(l)) expect(guard.test(l)).toBe(true);
    }
    expect(guarded).toBeGreaterThanOrEqual(3);
  });
  it('a script gives the same fields whether the tail test ran or not', () => {
    const src = `grok(_, ${JSON.stringify(patterns[0])})\n`;
    const s = load(src);
    // a failing line arms the tail test for the next ones; the reference script is fresh each time
    for (const l of [lines[1], lines[0], lines[1], lines[1], lines[0], lines[0]]) {
      const x = s.run(l!);
      const y = load(src).run(l!);
      expect(x.ok && y.ok && [...x.out.fields]).toEqual(y.ok && [...y.out.fields]);
    }
    expect(backtrackGuard(compileGrok(patterns[0]!).source, '')?.test(lines[1]!)).toBe(false);
  });
});
