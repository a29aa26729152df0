/**
 * bench/callgrind-names.js's parsing, on a made-up perf map and callgrind_annotate output: JIT addresses named
 * by the entry holding them, recursion levels summed (exclusive) or left out (inclusive), call counts and object
 * files dropped from callers' names, GC and compilation picked out, per-request differences.
 */
import { describe, expect, it } from 'vitest';
import {
  lookup,
  nameOf,
  parseAnnotate,
  parsePerfMap,
  perRequest,
  tally,
  UNMAPPED,
} from '../../bench/callgrind-names.js';

const map = parsePerfMap(
  [
    'd0d2840 100 JS:*setNow file:///x/memory.js:299:20',
    'd0c0000 40 RegExp:^a$',
    '18c4000 300 Builtin:Deopt',
    '',
  ].join('\n'),
);

const header = `--------------------------------------------------------------------------------
Ir
--------------------------------------------------------------------------------
1,000 (100.0%)  PROGRAM TOTALS

--------------------------------------------------------------------------------
Ir                   file:function
--------------------------------------------------------------------------------
`;

describe('callgrind-names', () => {
  it('names an address by the perf map entry holding it', () => {
    expect(map.map((e) => e.start)).toEqual([0x18c4000, 0xd0c0000, 0xd0d2840]);
    expect(lookup(map, 0xd0d2840)).toBe('JS:*setNow file:///x/memory.js:299:20');
    expect(lookup(map, 0xd0d293f)).toBe('JS:*setNow file:///x/memory.js:299:20');
    expect(lookup(map, 0xd0d2940)).toBeUndefined();
    expect(lookup(map, 0x100)).toBeUndefined();
    expect(nameOf("???:0x000000000d0d2854'2 (1,561x) [???]", map)).toEqual({
      name: 'JS:*setNow file:///x/memory.js:299:20',
      level: 2,
      jit: true,
    });
    expect(nameOf('???:0x00000000000000ff [???]', map).name).toBe(UNMAPPED);
    expect(nameOf('???:0x00000000000000ff [???]', undefined).name).toBe('0x00000000000000ff');
    expect(nameOf('./malloc/./malloc/malloc.c:_int_free [/usr/lib/libc.so.6]', map)).toEqual({
      name: './malloc/./malloc/malloc.c:_int_free',
      level: 1,
      jit: false,
    });
    expect(nameOf('???:f(int, char) (12x) [/usr/bin/node]', map).name).toBe('f(int, char)');
  });

  it('sums exclusive counts by name, recursion levels included', () => {
    const parsed = parseAnnotate(`${header}600 (60.0%)  ???:0x000000000d0d2840 [???]
300 (30.0%)  ???:0x000000000d0d2900'2 [???]
100 (10.0%)  ???:Builtins_LoadIC [/usr/bin/node]

--------------------------------------------------------------------------------
-- Auto-annotated source: /usr/include/x.h
--------------------------------------------------------------------------------
3 ( 0.00%)    return 1;
`);
    expect(parsed.total).toBe(1000);
    const { counts, summary } = tally(parsed, map, 'exclusive');
    expect(Object.fromEntries(counts)).toEqual({
      'JS:*setNow file:///x/memory.js:299:20': 900,
      Builtins_LoadIC: 100,
    });
    expect(summary.jit).toBe(900);
  });

  it('leaves inner recursion levels out of inclusive counts and picks out GC and compilation', () => {
    const parsed = parseAnnotate(`${header}900 (90.0%)  ???:0x000000000d0d2840 [???]
800 (80.0%)  ???:0x000000000d0d2840'2 [???]
50 ( 5.0%)  ???:v8::internal::Heap::CollectGarbage(v8::internal::AllocationSpace) [/usr/bin/node]
40 ( 4.0%)  ???:v8::internal::Runtime_CompileOptimized(int, unsigned long*, v8::internal::Isolate*) [/usr/bin/node]
30 ( 3.0%)  ???:v8::internal::compiler::PipelineImpl::OptimizeGraph(v8::internal::compiler::Linkage*) [/usr/bin/node]
`);
    const { counts, summary } = tally(parsed, map, 'inclusive');
    expect(counts.get('JS:*setNow file:///x/memory.js:299:20')).toBe(900);
    expect(summary).toMatchObject({ total: 1000, gc: 50, compile: 40 });
  });

  it('reads callers and callees from the trees', () => {
    const callers = parseAnnotate(`${header}
  70 ( 7.0%)  < ???:0x000000000d0c0010 (39,618x) [???]
  30 ( 3.0%)  < ???:Builtins_KeyedLoadIC (5x) [/usr/bin/node]
 100 (10.0%)  *  ???:Builtins_KeyedLoadIC_Megamorphic [/usr/bin/node]

  5 ( 0.5%)  < ???:main (1x) [/usr/bin/node]
  5 ( 0.5%)  *  ???:other [/usr/bin/node]
`);
    expect(Object.fromEntries(tally(callers, map, 'callers', 'Megamorphic').counts)).toEqual({
      'Builtins_KeyedLoadIC_Megamorphic <- RegExp:^a$': 70,
      'Builtins_KeyedLoadIC_Megamorphic <- Builtins_KeyedLoadIC': 30,
    });
    const callees = parseAnnotate(`${header}
 100 (10.0%)  *  ???:0x000000000d0d2840 [???]
  60 ( 6.0%)  >   ???:Builtins_StringAdd_CheckNone (3x) [/usr/bin/node]
  40 ( 4.0%)  >   ???:0x000000000d0d2850'2 (1x) [???]
`);
    expect(Object.fromEntries(tally(callees, map, 'callees', 'setNow').counts)).toEqual({
      'JS:*setNow file:///x/memory.js:299:20 -> Builtins_StringAdd_CheckNone': 60,
      "JS:*setNow file:///x/memory.js:299:20 -> JS:*setNow file:///x/memory.js:299:20 '2": 40,
    });
  });

  it('divides the difference between the runs by the requests between them', () => {
    const small = new Map([
      ['a', 100],
      ['b', 50],
    ]);
    const large = new Map([
      ['a', 300],
      ['c', 40],
    ]);
    expect(Object.fromEntries(perRequest(small, large, 20))).toEqual({ a: 10, b: -2.5, c: 2 });
  });
});
