/**
 * DataKit's `v2` dataway body: protobuf `PBPoints`, encoded with protobufjs.
 * `Content-Type: application/protobuf; proto=com.guance.Point`.
 *
 * The message shapes follow DataKit's point.proto (package point): tags and
 * fields share one repeated `Field` list, told apart by `is_tag`.
 */
import protobuf from 'protobufjs';
import { UInt, type FieldValue, type Point } from './point.js';
import type { DecodedPoint } from './lineproto.js';

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

const root = protobuf.parse(PROTO, { keepCase: true }).root;
const PBPoints = root.lookupType('point.PBPoints');

type PBField = { key: string; is_tag?: boolean; i?: string; u?: string; f?: number; b?: boolean; s?: string; d?: Uint8Array };

function toField(key: string, v: FieldValue): PBField | undefined {
  switch (typeof v) {
    case 'number':
      return Number.isFinite(v) ? { key, f: v } : undefined;
    case 'bigint':
      return { key, i: v.toString() };
    case 'string':
      return { key, s: v };
    case 'boolean':
      return { key, b: v };
    default:
      return v instanceof UInt ? { key, u: v.value.toString() } : undefined;
  }
}

/** Encodes points as a PBPoints body; points without a representable field are skipped. */
export function encodePBPoints(points: readonly Point[], defaultTime: bigint): Uint8Array {
  const arr = [];
  for (const p of points) {
    const fields: PBField[] = [];
    for (const k in p.tags) if (k !== '' && p.tags[k] !== '') fields.push({ key: k, s: p.tags[k]!, is_tag: true });
    let n = 0;
    for (const k in p.fields) {
      const f = toField(k, p.fields[k]!);
      if (f) {
        fields.push(f);
        n++;
      }
    }
    if (n === 0 || p.name === '') continue;
    arr.push({ name: p.name, fields, time: (p.time ?? defaultTime).toString() });
  }
  return PBPoints.encode(PBPoints.fromObject({ arr })).finish();
}

/** Decodes a PBPoints body (used by the test dataway and `/v1/write` with a protobuf body). */
export function decodePBPoints(buf: Uint8Array): DecodedPoint[] {
  const msg = PBPoints.toObject(PBPoints.decode(buf), { longs: String, oneofs: true, defaults: false }) as {
    arr?: { name?: string; fields?: (PBField & { val?: string })[]; time?: string }[];
  };
  return (msg.arr ?? []).map((p) => {
    const tags: Record<string, string> = {};
    const fields: Record<string, FieldValue> = {};
    for (const f of p.fields ?? []) {
      if (f.is_tag) tags[f.key] = f.s ?? '';
      else if (f.val === 'i') fields[f.key] = BigInt(f.i!);
      else if (f.val === 'u') fields[f.key] = new UInt(BigInt(f.u!));
      else if (f.val === 'f') fields[f.key] = f.f!;
      else if (f.val === 'b') fields[f.key] = f.b!;
      else if (f.val === 's') fields[f.key] = f.s!;
      else if (f.val === 'd') fields[f.key] = Buffer.from(f.d!).toString('utf8');
    }
    return { name: p.name ?? '', tags, fields, time: p.time === undefined ? undefined : BigInt(p.time) };
  });
}
