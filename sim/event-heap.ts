/**
 * The simulator's future-event list: a binary min-heap on (time, insertion order) over parallel typed arrays, so
 * that millions of events cost no object allocation. Equal times pop in insertion order, which keeps a run
 * deterministic. Each event carries a kind and two integer payloads.
 */
export class EventHeap {
  private time = new Float64Array(1024);
  private seq = new Float64Array(1024);
  private kind = new Int32Array(1024);
  private a = new Int32Array(1024);
  private b = new Int32Array(1024);
  private n = 0;
  private counter = 0;

  get size(): number {
    return this.n;
  }

  /** Time of the earliest event, or Infinity when empty. */
  peekTime(): number {
    return this.n > 0 ? (this.time[0] as number) : Infinity;
  }

  push(t: number, kind: number, a: number, b: number): void {
    if (this.n === this.time.length) this.grow();
    let i = this.n++;
    const s = this.counter++;
    // Sift up: move parents down until the slot for (t, s) is found.
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pt = this.time[p] as number;
      if (pt < t || (pt === t && (this.seq[p] as number) < s)) break;
      this.move(p, i);
      i = p;
    }
    this.set(i, t, s, kind, a, b);
  }

  /** Pop the earliest event into `out` ([time, kind, a, b]); false when empty. */
  pop(out: Float64Array): boolean {
    if (this.n === 0) return false;
    out[0] = this.time[0] as number;
    out[1] = this.kind[0] as number;
    out[2] = this.a[0] as number;
    out[3] = this.b[0] as number;
    const last = --this.n;
    if (last === 0) return true;
    const t = this.time[last] as number;
    const s = this.seq[last] as number;
    const k = this.kind[last] as number;
    const a = this.a[last] as number;
    const b = this.b[last] as number;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= last) break;
      const r = l + 1;
      let c = l;
      if (r < last) {
        const lt = this.time[l] as number;
        const rt = this.time[r] as number;
        if (rt < lt || (rt === lt && (this.seq[r] as number) < (this.seq[l] as number))) c = r;
      }
      const ct = this.time[c] as number;
      if (t < ct || (t === ct && s < (this.seq[c] as number))) break;
      this.move(c, i);
      i = c;
    }
    this.set(i, t, s, k, a, b);
    return true;
  }

  private move(from: number, to: number): void {
    this.time[to] = this.time[from] as number;
    this.seq[to] = this.seq[from] as number;
    this.kind[to] = this.kind[from] as number;
    this.a[to] = this.a[from] as number;
    this.b[to] = this.b[from] as number;
  }

  private set(i: number, t: number, s: number, kind: number, a: number, b: number): void {
    this.time[i] = t;
    this.seq[i] = s;
    this.kind[i] = kind;
    this.a[i] = a;
    this.b[i] = b;
  }

  private grow(): void {
    const size = this.time.length * 2;
    const f = (x: Float64Array) => {
      const y = new Float64Array(size);
      y.set(x);
      return y;
    };
    const g = (x: Int32Array) => {
      const y = new Int32Array(size);
      y.set(x);
      return y;
    };
    this.time = f(this.time);
    this.seq = f(this.seq);
    this.kind = g(this.kind);
    this.a = g(this.a);
    this.b = g(this.b);
  }
}
