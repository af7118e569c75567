/**
 * Port conflicts between input instances and with the agent's HTTP server,
 * found from the ports each instance declares (InputDefinition.ports) before
 * anything binds: check-config reports what `run` would fail on, and a reload
 * that would collide is rejected instead of stopping the running input.
 */
import type { PortClaim } from '../input/contract.js';
import type { ConfigProblem, InstanceConfig } from './load.js';

const ANY = new Set(['', '0.0.0.0', '::', '[::]', '*']);

/** Two listen hosts overlap when they are equal or either one is every address. */
function overlaps(a: string, b: string): boolean {
  return ANY.has(a) || ANY.has(b) || a === b || (isLoopback(a) && isLoopback(b) && a === b);
}

function isLoopback(h: string): boolean {
  return h === 'localhost' || h === '::1' || h.startsWith('127.');
}

interface Owner {
  claim: PortClaim;
  what: string;
  source: string;
}

/** Errors for every declared port that another instance, or the HTTP server, already claims. */
export function portConflicts(instances: readonly InstanceConfig[], http: { host: string; port: number }): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const owners: Owner[] = [{ claim: { protocol: 'tcp', host: http.host, port: http.port, key: 'listen' }, what: 'the HTTP server (ENV_HTTP_LISTEN)', source: 'environment' }];
  for (const inst of instances) {
    let claims: PortClaim[];
    try {
      claims = inst.def.ports?.(inst.config) ?? [];
    } catch {
      continue; // the schema validated the config; a declaration that throws is not a conflict
    }
    const what = `inputs.${inst.def.name}[${inst.instance}]`;
    for (const claim of claims) {
      if (claim.port === 0) continue;
      const other = owners.find((o) => o.claim.protocol === claim.protocol && o.claim.port === claim.port && overlaps(o.claim.host, claim.host));
      if (other) {
        problems.push({
          severity: 'error',
          file: inst.source,
          key: `${what}.${claim.key}`,
          message: `${claim.protocol} port ${claim.port} is already bound by ${other.what}${other.source !== inst.source && other.source !== 'environment' ? ` (${other.source})` : ''}`,
        });
      } else owners.push({ claim, what, source: inst.source });
    }
  }
  return problems;
}
