/**
 * Time text → Unix nanoseconds, for default_time(): the families of formats
 * DataKit's documentation lists (it uses a "parse any date" library):
 * Unix timestamps in s/ms/µs/ns, `YYYYMMDD[hhmmss]`, ISO 8601 / RFC 3339 with
 * `T` or space, `YYYY/MM/DD hh:mm:ss` (nginx errors), `DD/Mon/YYYY:hh:mm:ss ±zzzz`
 * (HTTPDATE), `Mon Jan _2 15:04:05[.µs] [MST] 2006` (ANSI C, Apache errors),
 * `Mon, 02 Jan 2006 15:04:05 MST|-0700` (RFC 1123/2822), `DD Mon YYYY hh:mm:ss.mmm`
 * (Redis), `Mon D, YYYY [h:mm:ss PM]`, `MM.DD.YYYY`, `YYYY-MM`, `YYYY`; fractions
 * after `.` or `,`; `AM`/`PM`; zones `Z`, `±hh:mm`, `±hhmm`, `±hh`, `UTC`/`GMT[±hhmm]`
 * and common abbreviations. Text without a zone is read in the given zone.
 */

/** A time zone: a fixed offset (minutes east of UTC), an IANA name, or the process's local zone. */
export type Zone = { kind: 'fixed'; minutes: number } | { kind: 'iana'; name: string; fmt: Intl.DateTimeFormat } | { kind: 'local' };

export const LOCAL: Zone = { kind: 'local' };

const MONTHS: Record<string, number> = {
  jan: 1, january: 1, feb: 2, february: 2, mar: 3, march: 3, apr: 4, april: 4, may: 5, jun: 6, june: 6,
  jul: 7, july: 7, aug: 8, august: 8, sep: 9, sept: 9, september: 9, oct: 10, october: 10, nov: 11, november: 11, dec: 12, december: 12,
};

const ABBR: Record<string, number> = {
  UTC: 0, GMT: 0, UT: 0, Z: 0, EST: -300, EDT: -240, CST: -360, CDT: -300, MST: -420, MDT: -360, PST: -480, PDT: -420,
  CET: 60, CEST: 120, EET: 120, EEST: 180, WET: 0, WEST: 60, BST: 60, MSK: 180, JST: 540, KST: 540, HKT: 480, SGT: 480, AEST: 600, AEDT: 660, IST: 330,
};

/** `+8`, `-8`, `+8:30`, `+0800`, `UTC`, `Asia/Shanghai`; undefined when not a zone. */
export function parseZone(s: string): Zone | undefined {
  const t = s.trim();
  if (t === '') return LOCAL;
  const m = /^(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?$/.exec(t);
  if (m) return { kind: 'fixed', minutes: (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3] ?? 0)) };
  if (ABBR[t.toUpperCase()] !== undefined) return { kind: 'fixed', minutes: ABBR[t.toUpperCase()]! };
  try {
    const fmt = new Intl.DateTimeFormat('en-US', { timeZone: t, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    return { kind: 'iana', name: t, fmt };
  } catch {
    return undefined;
  }
}

/** Minutes east of UTC of `zone` at the instant `utcMs`. */
function offsetAt(zone: Zone, utcMs: number): number {
  if (zone.kind === 'fixed') return zone.minutes;
  if (zone.kind === 'local') return -new Date(utcMs).getTimezoneOffset();
  const p: Record<string, number> = {};
  for (const x of zone.fmt.formatToParts(new Date(utcMs))) if (x.type !== 'literal') p[x.type] = Number(x.value);
  const asUtc = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!);
  return Math.round((asUtc - Math.floor(utcMs / 1000) * 1000) / 60000);
}

/** Wall-clock time in `zone` → UTC milliseconds. */
function wallToUtc(zone: Zone, y: number, mo: number, d: number, h: number, mi: number, s: number): number {
  const wall = Date.UTC(y, mo - 1, d, h, mi, s);
  if (zone.kind === 'fixed') return wall - zone.minutes * 60000;
  let utc = wall - offsetAt(zone, wall) * 60000;
  utc = wall - offsetAt(zone, utc) * 60000;
  return utc;
}

const TIME_RE = /(?:^|[^\d])(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(?:\s*([AaPp])\.?[Mm]\.?(?![A-Za-z]))?/;
const ZONE_RE = /^\s*(?:(Z)(?![A-Za-z])|([+-])(\d{2}):?(\d{2})(?!\d)|([+-])(\d{1,2})(?![\d:])|(?:UTC|GMT)([+-])(\d{1,2}):?(\d{2})?|([A-Z]{1,5})(?![A-Za-z]))/;

function year2(y: number, digits: number): number {
  if (digits > 2) return y;
  return y < 70 ? 2000 + y : 1900 + y;
}

/** Parses time text; undefined when it is not a time this parser knows. */
export function parseTimeText(text: string, zone: Zone = LOCAL): bigint | undefined {
  let s = text.trim();
  if (s === '') return undefined;
  if (/^\d+$/.test(s)) {
    switch (s.length) {
      case 10:
        return BigInt(s) * 1_000_000_000n;
      case 13:
        return BigInt(s) * 1_000_000n;
      case 16:
        return BigInt(s) * 1000n;
      case 19:
        return BigInt(s);
      case 8:
        return build(zone, undefined, +s.slice(0, 4), +s.slice(4, 6), +s.slice(6, 8), 0, 0, 0, '');
      case 14:
        return build(zone, undefined, +s.slice(0, 4), +s.slice(4, 6), +s.slice(6, 8), +s.slice(8, 10), +s.slice(10, 12), +s.slice(12, 14), '');
      case 4:
        return build(zone, undefined, +s, 1, 1, 0, 0, 0, '');
    }
    return undefined;
  }
  s = s.replace(/\s+m=[+-][\d.]+$/, '').replace(/\s*\([^)]*\)\s*$/, '');
  let h = 0;
  let mi = 0;
  let sec = 0;
  let frac = '';
  let offset: number | undefined;
  let rest = s;
  const tm = TIME_RE.exec(s);
  if (tm) {
    h = Number(tm[1]);
    mi = Number(tm[2]);
    sec = Number(tm[3] ?? 0);
    frac = tm[4] ?? '';
    const ampm = tm[5]?.toLowerCase();
    if (ampm === 'p' && h < 12) h += 12;
    if (ampm === 'a' && h === 12) h = 0;
    const start = tm.index + (tm[0].length - tm[0].replace(/^[^\d]/, '').length);
    let after = s.slice(tm.index + tm[0].length);
    const zm = ZONE_RE.exec(after);
    if (zm) {
      if (zm[1]) offset = 0;
      else if (zm[2]) offset = (zm[2] === '-' ? -1 : 1) * (Number(zm[3]) * 60 + Number(zm[4]));
      else if (zm[5]) offset = (zm[5] === '-' ? -1 : 1) * Number(zm[6]) * 60;
      else if (zm[7]) offset = (zm[7] === '-' ? -1 : 1) * (Number(zm[8]) * 60 + Number(zm[9] ?? 0));
      else if (zm[10] && ABBR[zm[10]] !== undefined) offset = ABBR[zm[10]];
      if (offset !== undefined || (zm[10] && !MONTHS[zm[10].toLowerCase()])) after = after.slice(zm[0].length);
      // `+0000 UTC` and the like: a second zone word after a numeric one
      after = after.replace(/^\s*(?:[A-Z]{2,5}|[+-]\d{2})(?![A-Za-z\d])/, '');
    }
    rest = s.slice(0, start) + ' ' + after;
  }
  rest = rest.replace(/\bat\b/g, ' ').trim();
  let y: number | undefined;
  let mo: number | undefined;
  let d: number | undefined;
  let m: RegExpExecArray | null;
  if ((m = /(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:T|\b|$)/.exec(rest))) {
    y = +m[1]!;
    mo = +m[2]!;
    d = +m[3]!;
  } else if ((m = /(\d{1,2})[/-]([A-Za-z]{3,9})[/-](\d{2,4})/.exec(rest)) && MONTHS[m[2]!.toLowerCase()]) {
    d = +m[1]!;
    mo = MONTHS[m[2]!.toLowerCase()];
    y = year2(+m[3]!, m[3]!.length);
  } else if ((m = /(?:^|[^\d])(\d{1,2})\s+([A-Za-z]{3,9})\.?,?\s+(\d{2,4})(?!\d)/.exec(rest)) && MONTHS[m[2]!.toLowerCase()]) {
    d = +m[1]!;
    mo = MONTHS[m[2]!.toLowerCase()];
    y = year2(+m[3]!, m[3]!.length);
  } else if ((m = /\b([A-Za-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?\b,?(?:\s+'?(\d{4}|\d{2})\b)?/.exec(rest)) && MONTHS[m[1]!.toLowerCase()]) {
    mo = MONTHS[m[1]!.toLowerCase()];
    d = +m[2]!;
    if (m[3]) y = year2(+m[3], m[3].length);
    else {
      const yy = /\b(\d{4})\b/.exec(rest.slice(m.index + m[0].length));
      if (yy) y = +yy[1]!;
    }
  } else if ((m = /^(\d{1,2})[./](\d{1,2})[./](\d{4}|\d{2})$/.exec(rest))) {
    mo = +m[1]!;
    d = +m[2]!;
    y = year2(+m[3]!, m[3]!.length);
  } else if ((m = /^(\d{4})[-.](\d{1,2})$/.exec(rest))) {
    y = +m[1]!;
    mo = +m[2]!;
    d = 1;
  }
  if (y === undefined || mo === undefined || d === undefined) return undefined;
  if (!tm && rest.replace(m![0], '').trim() !== '' && !/^[,\s]*$/.test(rest.replace(m![0], ''))) return undefined;
  return build(zone, offset, y, mo, d, h, mi, sec, frac);
}

function build(zone: Zone, offset: number | undefined, y: number, mo: number, d: number, h: number, mi: number, s: number, frac: string): bigint | undefined {
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 24 || mi > 59 || s > 60) return undefined;
  const ms = offset !== undefined ? Date.UTC(y, mo - 1, d, h, mi, s) - offset * 60000 : wallToUtc(zone, y, mo, d, h, mi, s);
  if (Number.isNaN(ms)) return undefined;
  const ns = frac === '' ? 0n : BigInt(frac.padEnd(9, '0').slice(0, 9));
  return BigInt(ms) * 1_000_000n + ns;
}
