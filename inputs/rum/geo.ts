/**
 * Client location tags (`city`, `province`, `country`, `isp`) from MaxMind's
 * mmdb format (GeoLite2/GeoIP2 City, DB-IP, IPinfo, … and an optional ASN/ISP
 * database), read with the `maxmind` package. Names are English (`names.en`);
 * `isp` is the record's `isp`, else its `autonomous_system_organization`
 * (ASN databases), else `traits.isp`. Without a database, or for an address
 * the database does not know, every tag is `unknown`, as in DataKit.
 *
 * One lookup per request, kept in a bounded LRU keyed by the address: the tags
 * object is frozen and shared by every point of every request from that client.
 * An address not in it costs a walk of the database's search tree: the records
 * the walk ends at are decoded once and kept (maxmind's decoder cache, bounded,
 * keyed by the record's offset; a city's record is shared by all its networks),
 * and so is the location read from them (`place`, shared by their tags objects).
 */
import fs from 'node:fs/promises';
import { Reader, type Response as MmdbRecord } from 'maxmind';

/** Decoded records kept per database (by offset in the file): a city database holds ~100k–500k. */
const RECORD_CACHE_MAX = 65_536;

/** The decoder cache maxmind's Reader takes (`{ get, set }` by data offset), bounded: the oldest entry goes first. */
class RecordCache {
  private readonly m = new Map<string | number, unknown>();
  constructor(private readonly max: number) {}
  get(k: string | number): unknown {
    return this.m.get(k);
  }
  set(k: string | number, v: unknown): void {
    if (this.m.size >= this.max) this.m.delete(this.m.keys().next().value!);
    this.m.set(k, v);
  }
}

export type GeoTags = Readonly<{ ip: string; city: string; province: string; country: string; isp: string; place?: Place }>;
/** The location part of GeoTags, one frozen object per pair of database records (shared by the addresses they cover). */
export type Place = Readonly<{ city: string; province: string; country: string; isp: string }>;
export type LocateStatus = 'ok' | 'not_found' | 'no_database' | 'bad_ip';

interface Names {
  names?: Record<string, string>;
}
interface GeoRecord {
  city?: Names;
  subdivisions?: Names[];
  country?: Names & { iso_code?: string };
  isp?: string;
  autonomous_system_organization?: string;
  traits?: { isp?: string; autonomous_system_organization?: string };
}

const UNKNOWN = 'unknown';

function name(n: Names | undefined): string | undefined {
  return n?.names?.en ?? (n?.names ? Object.values(n.names)[0] : undefined);
}

export class GeoLocator {
  private readonly cache = new Map<string, { tags: GeoTags; status: LocateStatus }>();
  /** Lookups that went to the database (cache misses), for the benchmark and /metrics. */
  lookups = 0;

  private constructor(
    private readonly city: Reader<MmdbRecord> | undefined,
    private readonly isp: Reader<MmdbRecord> | undefined,
    private readonly max: number,
  ) {}

  /** Opens the databases (empty paths: none). Rejects when a file is missing or not an mmdb. */
  static async open(cityPath: string, ispPath: string, cacheSize: number): Promise<GeoLocator> {
    const read = async (p: string) => (p ? new Reader<MmdbRecord>(await fs.readFile(p), { cache: new RecordCache(RECORD_CACHE_MAX) }) : undefined);
    return new GeoLocator(await read(cityPath), await read(ispPath), cacheSize);
  }

  get hasDatabase(): boolean {
    return this.city !== undefined || this.isp !== undefined;
  }

  /** The location tags of `ip` ('' when the client's address is unknown). */
  locate(ip: string): { tags: GeoTags; status: LocateStatus } {
    const hit = this.cache.get(ip);
    if (hit !== undefined) {
      // most recently used at the young end
      this.cache.delete(ip);
      this.cache.set(ip, hit);
      return hit;
    }
    const r = this.lookup(ip);
    if (this.max > 0) {
      if (this.cache.size >= this.max) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(ip, r);
    }
    return r;
  }

  /** Records (the decoder's cached objects) → their place, kept while the records are. */
  private readonly places = new WeakMap<object, WeakMap<object, Place>>();
  private static readonly NONE = {};

  private place(rec: GeoRecord | null, ispRec: GeoRecord | null): Place {
    const a = rec ?? GeoLocator.NONE;
    const b = ispRec ?? GeoLocator.NONE;
    let byIsp = this.places.get(a);
    if (!byIsp) this.places.set(a, (byIsp = new WeakMap()));
    let p = byIsp.get(b);
    if (!p) {
      const isp = ispRec?.isp ?? ispRec?.autonomous_system_organization ?? rec?.isp ?? rec?.autonomous_system_organization ?? rec?.traits?.isp;
      p = Object.freeze({
        city: name(rec?.city) ?? UNKNOWN,
        province: name(rec?.subdivisions?.[0]) ?? UNKNOWN,
        country: name(rec?.country) ?? rec?.country?.iso_code ?? UNKNOWN,
        isp: isp ?? UNKNOWN,
      });
      byIsp.set(b, p);
    }
    return p;
  }

  private lookup(ip: string): { tags: GeoTags; status: LocateStatus } {
    const unknown = (status: LocateStatus) => ({ tags: Object.freeze({ ip, city: UNKNOWN, province: UNKNOWN, country: UNKNOWN, isp: UNKNOWN }), status });
    if (ip === '') return unknown('bad_ip');
    if (!this.hasDatabase) return unknown('no_database');
    this.lookups++;
    let rec: GeoRecord | null = null;
    let ispRec: GeoRecord | null = null;
    try {
      rec = (this.city?.get(ip) ?? null) as GeoRecord | null;
      ispRec = (this.isp?.get(ip) ?? null) as GeoRecord | null;
    } catch {
      return unknown('bad_ip');
    }
    if (!rec && !ispRec) return unknown('not_found');
    const place = this.place(rec, ispRec);
    const tags = Object.freeze({ ip, city: place.city, province: place.province, country: place.country, isp: place.isp, place });
    return { tags, status: 'ok' };
  }
}
