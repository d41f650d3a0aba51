/**
 * The simulator's event queue: a 4-ary min-heap over parallel typed arrays, ordered by
 * (timeMs, seq). An event is five numbers (time, seq, kind, node, payload), never an object
 * or a closure, so a run of hundreds of millions of events allocates nothing per event.
 * `seq` is the insertion order, so events due at the same instant pop in the order they were
 * scheduled: that is what makes a run replay exactly from its seed.
 */
export class EventQueue {
  private times: Float64Array;
  private seqs: Float64Array;
  private kinds: Uint8Array;
  private nodes: Int32Array;
  private payloads: Int32Array;
  private count = 0;
  private nextSeq = 0;

  /** Fields of the event returned by the last `pop()`; valid until the next `pop()`. */
  timeMs = 0;
  kind = 0;
  node = 0;
  payload = 0;

  constructor(initialCapacity = 1024) {
    const cap = Math.max(16, initialCapacity);
    this.times = new Float64Array(cap);
    this.seqs = new Float64Array(cap);
    this.kinds = new Uint8Array(cap);
    this.nodes = new Int32Array(cap);
    this.payloads = new Int32Array(cap);
  }

  get size(): number {
    return this.count;
  }

  /** Events pushed so far (also the next tie-break sequence number). */
  get pushed(): number {
    return this.nextSeq;
  }

  /** Time of the earliest event, or Infinity when empty. */
  peekTimeMs(): number {
    return this.count > 0 ? this.times[0]! : Infinity;
  }

  push(timeMs: number, kind: number, node: number, payload: number): void {
    if (this.count === this.times.length) this.grow();
    const seq = this.nextSeq++;
    // Sift up with a hole: move parents down until the new event's place is found.
    let i = this.count++;
    const times = this.times;
    const seqs = this.seqs;
    while (i > 0) {
      const p = (i - 1) >> 2;
      const pt = times[p]!;
      if (pt < timeMs || (pt === timeMs && seqs[p]! < seq)) break;
      this.move(p, i);
      i = p;
    }
    times[i] = timeMs;
    seqs[i] = seq;
    this.kinds[i] = kind;
    this.nodes[i] = node;
    this.payloads[i] = payload;
  }

  /** Removes the earliest event into `timeMs/kind/node/payload`; false when empty. */
  pop(): boolean {
    if (this.count === 0) return false;
    this.timeMs = this.times[0]!;
    this.kind = this.kinds[0]!;
    this.node = this.nodes[0]!;
    this.payload = this.payloads[0]!;
    const last = --this.count;
    if (last === 0) return true;
    const t = this.times[last]!;
    const s = this.seqs[last]!;
    const k = this.kinds[last]!;
    const n = this.nodes[last]!;
    const pl = this.payloads[last]!;
    const times = this.times;
    const seqs = this.seqs;
    let i = 0;
    // 4 children per level: a shallower heap costs fewer moves, which dominate (measured ~10% faster than binary at 200k events).
    for (;;) {
      const first = 4 * i + 1;
      if (first >= last) break;
      let c = first;
      let ct = times[first]!;
      let cs = seqs[first]!;
      const end = first + 4 < last ? first + 4 : last;
      for (let j = first + 1; j < end; j++) {
        const jt = times[j]!;
        if (jt < ct || (jt === ct && seqs[j]! < cs)) {
          c = j;
          ct = jt;
          cs = seqs[j]!;
        }
      }
      if (t < ct || (t === ct && s < cs)) break;
      this.move(c, i);
      i = c;
    }
    times[i] = t;
    seqs[i] = s;
    this.kinds[i] = k;
    this.nodes[i] = n;
    this.payloads[i] = pl;
    return true;
  }

  clear(): void {
    this.count = 0;
  }

  private move(from: number, to: number): void {
    this.times[to] = this.times[from]!;
    this.seqs[to] = this.seqs[from]!;
    this.kinds[to] = this.kinds[from]!;
    this.nodes[to] = this.nodes[from]!;
    this.payloads[to] = this.payloads[from]!;
  }

  private grow(): void {
    const cap = this.times.length * 2;
    const times = new Float64Array(cap);
    times.set(this.times);
    this.times = times;
    const seqs = new Float64Array(cap);
    seqs.set(this.seqs);
    this.seqs = seqs;
    const kinds = new Uint8Array(cap);
    kinds.set(this.kinds);
    this.kinds = kinds;
    const nodes = new Int32Array(cap);
    nodes.set(this.nodes);
    this.nodes = nodes;
    const payloads = new Int32Array(cap);
    payloads.set(this.payloads);
    this.payloads = payloads;
  }
}
