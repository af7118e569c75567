/**
 * The built-in functions, by name (DataKit's names are case-insensitive).
 * A call to a name not listed here is a load error.
 */
import { add_pattern, grok, json } from './extract.js';
import { add_key, cast, drop, drop_key, drop_origin_data, exit, get_key, group_between, group_in, len, lowercase, nullif, rename, set_measurement, set_tag, strfmt, trim, uppercase, url_decode } from './keys.js';
import { default_time, duration_precision, parse_duration } from './time.js';
import { kv_split, match, replace } from './regex.js';
import type { FnSpec } from './types.js';
import { user_agent } from './useragent.js';

export const FUNCTIONS: ReadonlyMap<string, FnSpec> = new Map(
  Object.entries({
    add_key,
    add_pattern,
    cast,
    default_time,
    drop,
    duration_precision,
    drop_key,
    drop_origin_data,
    exit,
    get_key,
    grok,
    group_between,
    group_in,
    json,
    kv_split,
    len,
    lowercase,
    match,
    nullif,
    parse_duration,
    rename,
    replace,
    set_measurement,
    set_tag,
    strfmt,
    trim,
    uppercase,
    url_decode,
    user_agent,
  }),
);
