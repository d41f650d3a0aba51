/**
 * Two gateways of one cluster can get one idempotency key at the same moment (two entries, or
 * a retry through the other gateway) and rank with slightly different summaries: each binds
 * the key to a different remote cluster. Each copies its binding to its siblings before the job
 * crosses, and these rules make every gateway send the key to one cluster:
 *
 * - A sibling's copy against a binding held here: a binding whose job already crossed (not
 *   pending) stands, whatever the copy says; two pending bindings, each still waiting for its
 *   copies, settle on the smaller cluster name, the same choice on both sides.
 * - The gateway whose copy was answered with another cluster sends the job there instead.
 * - A gateway still flying the key keeps its binding when a refused sibling unbinds it.
 *
 * Found by the simulator (10 clusters × 10k hosts): 1 of 393 keys sent twice at once was placed
 * in two clusters when the copy simply overwrote the sibling's binding. With these rules the
 * same run still shows 1 duplicate of ~390, cause not established (src/federation/README.md).
 */

/** What a sibling's copy of a binding leaves here, and answers: the cluster the key goes to. */
export function settleSiblingBinding(held: string | undefined, heldPending: boolean, incoming: string): string {
  if (held === undefined || held === incoming) return incoming;
  if (!heldPending) return held;
  return held < incoming ? held : incoming;
}

/**
 * Where this gateway sends the job after its copies were answered: the siblings' answer when it
 * names another cluster (the smallest, should several siblings disagree), else its own choice.
 * An answer without a cluster (an older gateway, or a failed copy) leaves the choice alone.
 */
export function clusterAfterCopies(own: string, answers: readonly (string | null | undefined)[]): string {
  let other: string | null = null;
  for (const a of answers) if (typeof a === 'string' && a !== own && (other === null || a < other)) other = a;
  return other ?? own;
}

/**
 * A gateway whose burst was refused by a cluster unbinds the key at its siblings before it tries
 * the next cluster. A sibling running its own burst of the same key keeps its binding: that
 * flight may be creating the job in the cluster that refused ours (a quota is counted per
 * receiving gateway, capacity changes). The refused gateway's next copy is then answered with
 * it (`settleSiblingBinding`) and follows it there, where the key owner answers with the one job;
 * had the sibling forgotten, the next cluster would have made a second job.
 */
export function siblingUnbindAnswer(held: string | undefined, inFlight: boolean): string | null {
  return inFlight && held !== undefined ? held : null;
}
