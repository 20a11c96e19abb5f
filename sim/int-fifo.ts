/** A growable FIFO of (int, int) pairs on typed arrays: the simulator's queues hold (query, execution id). */
export class IntPairFifo {
  private x = new Int32Array(256);
  private y = new Int32Array(256);
  private head = 0;
  private count = 0;

  get length(): number {
    return this.count;
  }

  push(a: number, b: number): void {
    if (this.count === this.x.length) this.grow();
    const i = (this.head + this.count) % this.x.length;
    this.x[i] = a;
    this.y[i] = b;
    this.count++;
  }

  /** Remove the oldest pair into `out` ([a, b]); false when empty. */
  shift(out: Int32Array): boolean {
    if (this.count === 0) return false;
    out[0] = this.x[this.head] as number;
    out[1] = this.y[this.head] as number;
    this.head = (this.head + 1) % this.x.length;
    this.count--;
    return true;
  }

  private grow(): void {
    const size = this.x.length * 2;
    const nx = new Int32Array(size);
    const ny = new Int32Array(size);
    for (let i = 0; i < this.count; i++) {
      const j = (this.head + i) % this.x.length;
      nx[i] = this.x[j] as number;
      ny[i] = this.y[j] as number;
    }
    this.x = nx;
    this.y = ny;
    this.head = 0;
  }
}
