import { FederationError } from './errors.ts';

/**
 * Global addressing: a job is `ID@cluster` and a host `host@cluster` anywhere in the
 * federation. Inside its own cluster the bare `ID` keeps working, so single-cluster callers
 * never see the suffix.
 */

/** Cluster names follow the config's `cluster` rule, so an address's suffix is a valid cluster name. */
export const CLUSTER_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** Job ids and peer ids: letters, digits and a few separators; never '@'. */
const LOCAL_PART_PATTERN = /^[A-Za-z0-9._-]{1,100}$/;

export interface GlobalAddress {
  /** The id inside its cluster (job id or host peer id). */
  readonly id: string;
  /** The cluster named after '@'; undefined for a bare id. */
  readonly cluster: string | undefined;
}

/** Parses `ID` or `ID@cluster`; anything else is FEDERATION_INVALID_ADDRESS naming what is wrong. */
export function parseGlobalAddress(text: string): GlobalAddress {
  const at = text.indexOf('@');
  const id = at < 0 ? text : text.slice(0, at);
  const cluster = at < 0 ? undefined : text.slice(at + 1);
  if (!LOCAL_PART_PATTERN.test(id)) {
    throw new FederationError('FEDERATION_INVALID_ADDRESS', `"${clip(text)}" is not an address: the part before "@" must be 1-100 letters, digits, ".", "_" or "-"`, { address: clip(text) });
  }
  if (cluster !== undefined && !CLUSTER_NAME_PATTERN.test(cluster)) {
    throw new FederationError('FEDERATION_INVALID_ADDRESS', `"${clip(text)}" is not an address: "${clip(cluster)}" is not a cluster name (lowercase letters, digits and "-")`, {
      address: clip(text),
    });
  }
  return { id, cluster };
}

/** `id@cluster`. */
export function globalAddress(id: string, cluster: string): string {
  return `${id}@${cluster}`;
}

/** True when `address` names another cluster than `own` (a bare id is local). */
export function isRemote(address: GlobalAddress, own: string): boolean {
  return address.cluster !== undefined && address.cluster !== own;
}

function clip(s: string): string {
  return s.length > 140 ? `${s.slice(0, 140)}…` : s;
}
