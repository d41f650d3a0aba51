import type { MessageState } from './message-state.ts';

/**
 * One gossipsub topic as the overlay model sees it: its subscribers, each at a position
 * (a small integer, so per-message state is a typed array indexed by position), and the
 * mesh among them as a fixed-width adjacency table. Mesh links are symmetric, as GRAFT and
 * PRUNE make them in gossipsub.
 */
export class Topic {
  readonly name: string;
  /** Index into the model's topic-kind labels (cell, district, global…), for bounded metrics. */
  readonly kind: number;
  /** Slots per position in `mesh`: Dhi plus headroom for grafts accepted between heartbeats. */
  readonly meshWidth: number;
  cap: number;
  /** Host at each position, -1 when free. */
  posNode: Int32Array;
  /** When the current occupant subscribed: a message published earlier is not delivered to a reused position. */
  posSinceMs: Float64Array;
  mesh: Int32Array;
  meshDeg: Uint8Array;
  /** Dense list of occupied positions (for uniform random peer picks) and each position's index in it. */
  members: Int32Array;
  memberIdx: Int32Array;
  count = 0;
  readonly nodePos = new Map<number, number>();
  /** Positions whose degree left [Dlo, Dhi]: the next heartbeat repairs them. */
  dirty: number[] = [];
  dirtyFlag: Uint8Array;
  /** Freed positions, reusable once no message can still reference them. */
  readonly freed: { pos: number; reusableAtMs: number }[] = [];
  /** Messages in the message cache, oldest first. */
  readonly active: MessageState[] = [];
  /** Live messages by (origin, content) key: gossipsub's content-hash message ids make identical republished bytes a duplicate. */
  readonly byKey = new Map<number, MessageState>();
  /** Members that crashed but whose peers have not noticed yet. */
  deadMembers = 0;
  lastPublishMs = -Infinity;

  constructor(name: string, kind: number, meshWidth: number, initialCap = 8) {
    this.name = name;
    this.kind = kind;
    this.meshWidth = meshWidth;
    this.cap = initialCap;
    this.posNode = new Int32Array(initialCap).fill(-1);
    this.posSinceMs = new Float64Array(initialCap);
    this.mesh = new Int32Array(initialCap * meshWidth);
    this.meshDeg = new Uint8Array(initialCap);
    this.members = new Int32Array(initialCap);
    this.memberIdx = new Int32Array(initialCap).fill(-1);
    this.dirtyFlag = new Uint8Array(initialCap);
  }

  /** Takes a position for `node`; reuses a freed one when safe, else grows. */
  add(node: number, nowMs: number): number {
    let pos = -1;
    const f = this.freed[0];
    if (f !== undefined && f.reusableAtMs <= nowMs) {
      this.freed.shift();
      pos = f.pos;
    } else {
      pos = this.nextFresh();
    }
    this.posNode[pos] = node;
    this.posSinceMs[pos] = nowMs;
    this.meshDeg[pos] = 0;
    this.memberIdx[pos] = this.count;
    this.members[this.count++] = pos;
    this.nodePos.set(node, pos);
    return pos;
  }

  private freshCursor = 0;

  private nextFresh(): number {
    if (this.freshCursor === this.cap) this.grow();
    return this.freshCursor++;
  }

  /** Frees `pos` (its mesh links must already be removed). */
  remove(pos: number, reusableAtMs: number): void {
    const node = this.posNode[pos]!;
    this.nodePos.delete(node);
    this.posNode[pos] = -1;
    const idx = this.memberIdx[pos]!;
    const lastPos = this.members[--this.count]!;
    this.members[idx] = lastPos;
    this.memberIdx[lastPos] = idx;
    this.memberIdx[pos] = -1;
    this.freed.push({ pos, reusableAtMs });
  }

  inMesh(p: number, q: number): boolean {
    const base = p * this.meshWidth;
    const deg = this.meshDeg[p]!;
    for (let k = 0; k < deg; k++) if (this.mesh[base + k] === q) return true;
    return false;
  }

  /** Adds the symmetric link p—q; false when either side is full. */
  link(p: number, q: number): boolean {
    const dp = this.meshDeg[p]!;
    const dq = this.meshDeg[q]!;
    if (dp >= this.meshWidth || dq >= this.meshWidth) return false;
    this.mesh[p * this.meshWidth + dp] = q;
    this.meshDeg[p] = dp + 1;
    this.mesh[q * this.meshWidth + dq] = p;
    this.meshDeg[q] = dq + 1;
    return true;
  }

  unlink(p: number, q: number): void {
    this.dropHalf(p, q);
    this.dropHalf(q, p);
  }

  private dropHalf(p: number, q: number): void {
    const base = p * this.meshWidth;
    const deg = this.meshDeg[p]!;
    for (let k = 0; k < deg; k++) {
      if (this.mesh[base + k] === q) {
        this.mesh[base + k] = this.mesh[base + deg - 1]!;
        this.meshDeg[p] = deg - 1;
        return;
      }
    }
  }

  markDirty(pos: number): void {
    if (this.dirtyFlag[pos]) return;
    this.dirtyFlag[pos] = 1;
    this.dirty.push(pos);
  }

  private grow(): void {
    const cap = this.cap * 2;
    const posNode = new Int32Array(cap).fill(-1);
    posNode.set(this.posNode);
    this.posNode = posNode;
    const since = new Float64Array(cap);
    since.set(this.posSinceMs);
    this.posSinceMs = since;
    const mesh = new Int32Array(cap * this.meshWidth);
    mesh.set(this.mesh);
    this.mesh = mesh;
    const deg = new Uint8Array(cap);
    deg.set(this.meshDeg);
    this.meshDeg = deg;
    const members = new Int32Array(cap);
    members.set(this.members);
    this.members = members;
    const memberIdx = new Int32Array(cap).fill(-1);
    memberIdx.set(this.memberIdx);
    this.memberIdx = memberIdx;
    const dirtyFlag = new Uint8Array(cap);
    dirtyFlag.set(this.dirtyFlag);
    this.dirtyFlag = dirtyFlag;
    this.cap = cap;
  }
}
