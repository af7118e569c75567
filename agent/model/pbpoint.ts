/**
 * DataKit's `v2` dataway body: protobuf `PBPoints`, encoded with protobufjs.
 * `Content-Type: application/protobuf; proto=com.guance.Point`.
 *
 * The message shapes follow DataKit's point.proto (package point): tags and
 * fields share one repeated `Field` list, told apart by `is_tag`.
 */
import { createRequire } from 'node:module';
import type { Type, Writer } from 'protobufjs';
import { UInt, Utf8String, type FieldValue, type Point } from './point.js';
import { setOwn, type DecodedPoint } from './lineproto.js';
import type { LineBuf } from './linebuf.js';

export const PB_CONTENT_TYPE = 'application/protobuf; proto=com.guance.Point';

const PROTO = `
syntax = "proto3";
package point;
message Field {
  string key = 1;
  oneof val {
    int64 i = 2;
    uint64 u = 3;
    double f = 4;
    bool b = 5;
    bytes d = 6;
    string s = 11;
  }
  bool is_tag = 8;
  int32 type = 9;
  string unit = 10;
}
message PBPoint {
  string name = 1;
  repeated Field fields = 2;
  int64 time = 3;
}
message PBPoints {
  repeated PBPoint arr = 1;
}
`;

/**
 * protobufjs, loaded on first use: an agent with v1 bodies (the default) and no
 * protobuf /v1/write never loads it (~3 MiB of heap, BENCHMARKS.md "Load only what runs").
 */
let lib: typeof import('protobufjs') | undefined;
const protobuf = (): typeof import('protobufjs') => (lib ??= createRequire(import.meta.url)('protobufjs') as typeof import('protobufjs'));
let pbPoints: Type | undefined;
const PBPoints = (): Type => (pbPoints ??= protobuf().parse(PROTO, { keepCase: true }).root.lookupType('point.PBPoints'));

type PBField = { key: string; is_tag?: boolean; i?: string; u?: string; f?: number; b?: boolean; s?: string; d?: Uint8Array };

/** A 64-bit integer as the low/high words protobufjs' Writer takes. */
function bits(v: bigint): { low: number; high: number } {
  const u = BigInt.asUintN(64, v);
  return { low: Number(u & 0xffffffffn), high: Number(u >> 32n) };
}

// Wire tags: (field number << 3) | wire type (0 varint, 1 fixed64, 2 length-delimited).
const T_ARR = (1 << 3) | 2;
const T_NAME = (1 << 3) | 2;
const T_FIELDS = (2 << 3) | 2;
const T_TIME = (3 << 3) | 0;
const T_KEY = (1 << 3) | 2;
const T_I = (2 << 3) | 0;
const T_U = (3 << 3) | 0;
const T_F = (4 << 3) | 1;
const T_B = (5 << 3) | 0;
const T_S = (11 << 3) | 2;
const T_IS_TAG = (8 << 3) | 0;

/**
 * Encodes points as a PBPoints body; points without a representable field are
 * skipped. Written with protobufjs' Writer directly: building message objects
 * for fromObject() made v2 encoding 14x slower than line protocol (bench/core).
 */
export function encodePBPoints(points: readonly Point[], defaultTime: bigint): Uint8Array {
  const w = protobuf().Writer.create();
  for (const p of points) writePoint(w, p, defaultTime);
  return w.finish();
}

/** One writer for all records, reset after each (its buffer is reused). */
let recordWriter: Writer | undefined;

/**
 * Appends one point to `out` as a record of a PBPoints body: its `arr` entry
 * (tag, length, PBPoint). Records written one after another make a PBPoints
 * body, so a batch of records is cut into bodies on record boundaries like
 * lines. False, writing nothing, when the point has no representable field
 * (encodePBPoints leaves such points out).
 */
export function appendPBRecord(out: LineBuf, p: Point, defaultTime: bigint): boolean {
  const w = (recordWriter ??= protobuf().Writer.create());
  writePoint(w, p, defaultTime);
  const ok = out.appendRecord(w.finish(true)); // a view of the writer's buffer, copied by appendRecord
  w.reset();
  return ok;
}

function writePoint(w: Writer, p: Point, defaultTime: bigint): void {
  if (p.name === '') return;
  let n = 0;
  for (const k in p.fields) if (fieldOk(p.fields[k]!)) n++;
  if (n === 0) return;
  w.uint32(T_ARR).fork();
  w.uint32(T_NAME).string(p.name);
  for (const k in p.tags) {
    const v = p.tags[k]!;
    if (k === '' || v === '') continue;
    w.uint32(T_FIELDS).fork().uint32(T_KEY).string(k).uint32(T_S).string(v).uint32(T_IS_TAG).bool(true).ldelim();
  }
  for (const k in p.fields) {
    const v = p.fields[k]!;
    if (!fieldOk(v)) continue;
    w.uint32(T_FIELDS).fork().uint32(T_KEY).string(k);
    switch (typeof v) {
      case 'number':
        w.uint32(T_F).double(v);
        break;
      case 'bigint':
        w.uint32(T_I).int64(bits(v) as never);
        break;
      case 'string':
        w.uint32(T_S).string(v);
        break;
      case 'boolean':
        w.uint32(T_B).bool(v);
        break;
      default:
        // a Utf8String is a string on the wire (length-delimited UTF-8), written without decoding
        if (v instanceof Utf8String) w.uint32(T_S).bytes(v.bytes);
        else w.uint32(T_U).uint64(bits((v as UInt).value) as never);
    }
    w.ldelim();
  }
  w.uint32(T_TIME).int64(bits(p.time ?? defaultTime) as never);
  w.ldelim();
}

function fieldOk(v: FieldValue): boolean {
  return typeof v === 'number' ? Number.isFinite(v) : typeof v !== 'object' || v instanceof UInt || v instanceof Utf8String;
}

/** Decodes a PBPoints body (used by the test dataway and `/v1/write` with a protobuf body). */
export function decodePBPoints(buf: Uint8Array): DecodedPoint[] {
  const type = PBPoints();
  const msg = type.toObject(type.decode(buf), { longs: String, oneofs: true, defaults: false }) as {
    arr?: { name?: string; fields?: (PBField & { val?: string })[]; time?: string }[];
  };
  return (msg.arr ?? []).map((p) => {
    const tags: Record<string, string> = {};
    const fields: Record<string, FieldValue> = {};
    for (const f of p.fields ?? []) {
      if (f.is_tag) setOwn(tags, f.key, f.s ?? '');
      else if (f.val === 'i') setOwn(fields, f.key, BigInt(f.i!));
      else if (f.val === 'u') setOwn(fields, f.key, new UInt(BigInt(f.u!)));
      else if (f.val === 'f') setOwn(fields, f.key, f.f!);
      else if (f.val === 'b') setOwn(fields, f.key, f.b!);
      else if (f.val === 's') setOwn(fields, f.key, f.s!);
      else if (f.val === 'd') setOwn(fields, f.key, Buffer.from(f.d!).toString('utf8'));
    }
    return { name: p.name ?? '', tags, fields, time: p.time === undefined ? undefined : BigInt(p.time) };
  });
}
