/**
 * A small seeded random number generator, so that every experiment in unequal is reproducible.
 *
 * The generator is SFC32 (Chris Doty-Humphrey's "small fast counting" generator, public domain),
 * seeded through a SplitMix32 scrambler so that nearby seeds give unrelated streams. It passes
 * PractRand to many terabytes, which is far more than a research kernel needs; the point is only
 * that `new Rng(seed)` gives the same stream on every machine.
 *
 * @module
 */

/** SplitMix32 step: turns a counter into a well-mixed 32-bit word. */
function splitmix32(state: number): [number, number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return [next, (z ^ (z >>> 16)) >>> 0];
}

/**
 * A seeded stream of uniform, normal and integer draws.
 *
 * @example
 * ```ts
 * const rng = new Rng(42);
 * rng.uniform();   // a number in [0, 1), the same on every run
 * rng.normal();    // a standard normal draw
 * rng.int(10);     // an integer in 0..9
 * ```
 */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  /** The second Box–Muller draw, kept for the next call to `normal()`. */
  private spare: number | null = null;

  /** @param seed any integer; equal seeds give equal streams. */
  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new Error(`Rng: seed must be a finite number, got ${seed}`);
    let s = Math.floor(seed) | 0;
    let w: number;
    [s, w] = splitmix32(s);
    this.a = w;
    [s, w] = splitmix32(s);
    this.b = w;
    [s, w] = splitmix32(s);
    this.c = w;
    this.d = 1;
    // Discard the first outputs: SFC32's state needs a few rounds to mix.
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** The next raw 32-bit unsigned integer. */
  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /**
   * A uniform draw in [0, 1) with 53 random bits.
   *
   * @example
   * ```ts
   * const u = new Rng(1).uniform(); // 0 <= u < 1
   * ```
   */
  uniform(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /**
   * A standard normal draw (Box–Muller, both values used).
   *
   * @example
   * ```ts
   * const z = new Rng(1).normal(); // mean 0, variance 1
   * ```
   */
  normal(): number {
    if (this.spare !== null) {
      const z = this.spare;
      this.spare = null;
      return z;
    }
    let u = 0;
    while (u === 0) u = this.uniform(); // log(0) would be -Infinity
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /**
   * A uniform integer in `0 .. n-1`.
   *
   * @example
   * ```ts
   * const die = new Rng(7).int(6) + 1; // 1..6
   * ```
   */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new Error(`Rng.int: n must be a positive integer, got ${n}`);
    return Math.floor(this.uniform() * n);
  }

  /**
   * Shuffles an array in place (Fisher–Yates) and returns it.
   *
   * @example
   * ```ts
   * new Rng(3).shuffle([0, 1, 2, 3]); // a permutation of 0..3
   * ```
   */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i]!;
      items[i] = items[j]!;
      items[j] = tmp;
    }
    return items;
  }

  /**
   * A random permutation of `0 .. n-1`.
   *
   * @example
   * ```ts
   * new Rng(3).permutation(4); // e.g. [2, 0, 3, 1]
   * ```
   */
  permutation(n: number): number[] {
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }
}
