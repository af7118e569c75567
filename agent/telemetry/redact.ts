/**
 * Hiding credentials in URLs before they are printed or exposed (logs,
 * /v1/stats, `telekit monitor`, check-config, error messages).
 *
 * {@link redactUrl} works on a URL or on any text that contains URLs (an error
 * message echoing a request line): the user-info of every `scheme://user:pass@`
 * becomes `***@`, and the value of every query parameter whose name looks like
 * a credential (`token`, `password`, `secret`, `key`, `auth`, `signature`,
 * `session`, …) becomes `***`. Other parameters stay readable.
 */

/** Query parameter names treated as credentials (substring match, case-insensitive), plus short exact names. */
const SECRET_NAME = /token|passw|pwd|secret|key|auth|sig|credential|session|cookie|private|bearer|jwt|^(pass|ak|sk|sid|code|p)$/i;

const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"'<>]+@/gi;
const PARAM = /([?&;])([^=&#;\s"'<>?]+)=([^&#;\s"'<>]*)/g;

/** True when a query parameter (or header-like) name looks like it carries a credential. */
export function isSecretName(name: string): boolean {
  let n = name;
  try {
    n = decodeURIComponent(name);
  } catch {
    // keep the raw name
  }
  return SECRET_NAME.test(n);
}

/** `text` with user-info and credential-like query values replaced by `***`. */
export function redactUrl(text: string): string {
  return text.replace(USERINFO, '$1***@').replace(PARAM, (all, sep: string, name: string) => (isSecretName(name) ? `${sep}${name}=***` : all));
}
