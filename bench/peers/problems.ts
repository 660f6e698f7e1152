/**
 * The benchmark problems every library is timed on, with seeded data and plain float64 reference
 * formulas.
 *
 * Both sides of a comparison must build their inputs from these generators, so that "unequal vs
 * jax-js" times the same arithmetic on the same numbers; and each peer's result is checked against
 * the reference formulas here before its time is reported, so that a fast wrong answer (a
 * transposed matrix, a missing 1/n, a dropped regulariser) cannot win a benchmark.
 *
 * Objective (as in DESIGN.md): R(θ) = (1/n) Σᵢ ℓ(zᵢ, θ) + (λ/2)‖w‖², ℓ = binary cross-entropy
 * with logits, written stably as softplus(s) − y·s; intercepts are not regularised.
 *
 * @module
 */

import { Rng } from '../../src/core/rng.ts';

/** L2-regularised logistic regression data, evaluation point and HVP direction. */
export interface LogregProblem {
  /** Features, row-major `n × d`, standard normal. */
  X: Float64Array;
  /** Labels in {0, 1}, drawn from a logistic model so the problem is neither separable nor noise. */
  y: Float64Array;
  n: number;
  d: number;
  /** Regularisation strength λ in (λ/2)‖w‖². */
  lambda: number;
  /** Weights at which loss, gradient and HVP are evaluated (small, seeded, not an optimum). */
  w: Float64Array;
  /** Intercept at the evaluation point. */
  b: number;
  /** HVP direction for the weights. */
  vw: Float64Array;
  /** HVP direction for the intercept. */
  vb: number;
}

/**
 * The logistic-regression benchmark problem: n = 2000, d = 784 (MNIST-sized), λ = 0.01.
 *
 * X is standard normal; labels come from a hidden weight vector scaled so the true logits have
 * standard deviation 2, which gives a realistic mix of confident and uncertain examples.
 *
 * @param seed RNG seed; equal seeds give bit-identical problems.
 *
 * @example
 * ```ts
 * const p = makeLogregProblem(0);
 * // p.n → 2000, p.d → 784, p.X.length → 1_568_000, p.lambda → 0.01
 * ```
 */
export function makeLogregProblem(seed: number): LogregProblem {
  const n = 2000;
  const d = 784;
  const rng = new Rng(seed);
  const X = new Float64Array(n * d);
  for (let k = 0; k < X.length; k++) X[k] = rng.normal();
  // ‖wTrue‖ = 2, so each true logit xᵢ·wTrue ~ N(0, 4).
  const wTrue = Float64Array.from({ length: d }, () => rng.normal());
  const scale = 2 / Math.hypot(...wTrue);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += X[i * d + j]! * wTrue[j]! * scale;
    y[i] = rng.uniform() < 1 / (1 + Math.exp(-s)) ? 1 : 0;
  }
  const w = Float64Array.from({ length: d }, () => 0.05 * rng.normal());
  const b = 0.1;
  const vw = Float64Array.from({ length: d }, () => rng.normal());
  const vb = rng.normal();
  return { X, y, n, d, lambda: 0.01, w, b, vw, vb };
}

/** softplus(s) = log(1 + eˢ), without overflow for large s or cancellation for very negative s. */
function softplus(s: number): number {
  return Math.max(s, 0) + Math.log1p(Math.exp(-Math.abs(s)));
}

/** σ(s) via the exponential of a non-positive argument (DESIGN.md's stable form). */
function sigmoid(s: number): number {
  if (s >= 0) return 1 / (1 + Math.exp(-s));
  const e = Math.exp(s);
  return e / (1 + e);
}

/** Logits s = X w + b. */
function logits(p: LogregProblem, w: Float64Array, b: number): Float64Array {
  const { X, n, d } = p;
  const s = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let acc = b;
    for (let j = 0; j < d; j++) acc += X[i * d + j]! * w[j]!;
    s[i] = acc;
  }
  return s;
}

/**
 * Reference logistic-regression objective and gradient in plain float64 loops:
 * R = mean(softplus(s) − y·s) + (λ/2)‖w‖², ∇_w R = Xᵀ(σ(s) − y)/n + λw, ∂_b R = mean(σ(s) − y).
 *
 * @param p the problem; `w`, `b` default to its evaluation point.
 *
 * @example
 * ```ts
 * const p = makeLogregProblem(0);
 * const { loss, gw, gb } = logregReference(p);
 * ```
 */
export function logregReference(
  p: LogregProblem,
  w: Float64Array = p.w,
  b: number = p.b,
): { loss: number; gw: Float64Array; gb: number } {
  const { X, y, n, d, lambda } = p;
  const s = logits(p, w, b);
  let loss = 0;
  let gb = 0;
  const gw = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    loss += softplus(s[i]!) - y[i]! * s[i]!;
    const r = sigmoid(s[i]!) - y[i]!;
    gb += r;
    for (let j = 0; j < d; j++) gw[j]! += X[i * d + j]! * r;
  }
  let wsq = 0;
  for (let j = 0; j < d; j++) {
    gw[j] = gw[j]! / n + lambda * w[j]!;
    wsq += w[j]! * w[j]!;
  }
  return { loss: loss / n + (lambda / 2) * wsq, gw, gb: gb / n };
}

/**
 * Reference Hessian-vector product of the logistic-regression objective at the evaluation point,
 * from the closed form H = (1/n) X̃ᵀ diag(σ(1−σ)) X̃ + λ·diag(1,…,1,0) with X̃ = [X 1]:
 * with u = X vw + vb·1 and a = σ(s)(1−σ(s)) ⊙ u, Hv_w = Xᵀa/n + λ vw, Hv_b = mean(a).
 *
 * @param p the problem (uses its `w`, `b`, `vw`, `vb`).
 *
 * @example
 * ```ts
 * const { hw, hb } = logregHvpReference(makeLogregProblem(0));
 * ```
 */
export function logregHvpReference(p: LogregProblem): { hw: Float64Array; hb: number } {
  const { X, n, d, lambda, vw, vb } = p;
  const s = logits(p, p.w, p.b);
  const u = logits(p, vw, vb);
  const hw = new Float64Array(d);
  let hb = 0;
  for (let i = 0; i < n; i++) {
    const sg = sigmoid(s[i]!);
    const a = sg * (1 - sg) * u[i]!;
    hb += a;
    for (let j = 0; j < d; j++) hw[j]! += X[i * d + j]! * a;
  }
  for (let j = 0; j < d; j++) hw[j] = hw[j]! / n + lambda * vw[j]!;
  return { hw, hb: hb / n };
}

/** Parameters of the 784 → h → 1 tanh MLP. `W1` is row-major `d × h`, so hidden = tanh(X W1 + b1). */
export interface MlpParams {
  W1: Float64Array;
  b1: Float64Array;
  W2: Float64Array;
  b2: number;
}

/** The MLP benchmark: the logistic problem's X and y, an evaluation point and an HVP direction. */
export interface MlpProblem {
  X: Float64Array;
  y: Float64Array;
  n: number;
  d: number;
  /** Hidden width (64). */
  h: number;
  /** λ in (λ/2)(‖W1‖² + ‖W2‖²); biases are not regularised. */
  lambda: number;
  params: MlpParams;
  /** HVP direction, same shapes as `params`. */
  v: MlpParams;
}

/**
 * The 2-layer tanh MLP benchmark (784 → 64 → 1, n = 2000) on the same X and y as
 * {@link makeLogregProblem}: logit = tanh(X W1 + b1) W2 + b2, objective
 * mean BCE-with-logits + (λ/2)(‖W1‖² + ‖W2‖²). Weights use LeCun-normal scaling (variance
 * 1/fan-in) so the tanh units are neither saturated nor linear.
 *
 * @param seed RNG seed; the data equal `makeLogregProblem(seed)`'s.
 *
 * @example
 * ```ts
 * const m = makeMlpProblem(0);
 * // m.params.W1.length → 784 * 64, m.h → 64
 * ```
 */
export function makeMlpProblem(seed: number): MlpProblem {
  const base = makeLogregProblem(seed);
  const { d } = base;
  const h = 64;
  const rng = new Rng(seed + 0x5eed);
  const gauss = (len: number, sd: number) => Float64Array.from({ length: len }, () => sd * rng.normal());
  const params: MlpParams = { W1: gauss(d * h, 1 / Math.sqrt(d)), b1: gauss(h, 0.1), W2: gauss(h, 1 / Math.sqrt(h)), b2: 0.1 };
  const v: MlpParams = { W1: gauss(d * h, 1), b1: gauss(h, 1), W2: gauss(h, 1), b2: rng.normal() };
  return { X: base.X, y: base.y, n: base.n, d, h, lambda: base.lambda, params, v };
}

/**
 * Reference MLP objective and gradient by hand-written backpropagation in float64 loops.
 *
 * @param m the problem.
 * @param p parameters; default `m.params`.
 *
 * @example
 * ```ts
 * const m = makeMlpProblem(0);
 * const { loss, grad } = mlpReference(m); // grad has the shapes of m.params
 * ```
 */
export function mlpReference(m: MlpProblem, p: MlpParams = m.params): { loss: number; grad: MlpParams } {
  const { X, y, n, d, h, lambda } = m;
  const gW1 = new Float64Array(d * h);
  const gb1 = new Float64Array(h);
  const gW2 = new Float64Array(h);
  let gb2 = 0;
  let loss = 0;
  const a = new Float64Array(h);
  const delta = new Float64Array(h);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < h; k++) a[k] = p.b1[k]!;
    for (let j = 0; j < d; j++) {
      const x = X[i * d + j]!;
      if (x === 0) continue;
      for (let k = 0; k < h; k++) a[k]! += x * p.W1[j * h + k]!;
    }
    let s = p.b2;
    for (let k = 0; k < h; k++) {
      a[k] = Math.tanh(a[k]!);
      s += a[k]! * p.W2[k]!;
    }
    loss += softplus(s) - y[i]! * s;
    const r = (sigmoid(s) - y[i]!) / n; // ∂(mean loss)/∂s
    gb2 += r;
    for (let k = 0; k < h; k++) {
      gW2[k]! += r * a[k]!;
      delta[k] = r * p.W2[k]! * (1 - a[k]! * a[k]!); // back through tanh
      gb1[k]! += delta[k]!;
    }
    for (let j = 0; j < d; j++) {
      const x = X[i * d + j]!;
      for (let k = 0; k < h; k++) gW1[j * h + k]! += x * delta[k]!;
    }
  }
  let sq = 0;
  for (let q = 0; q < d * h; q++) {
    gW1[q]! += lambda * p.W1[q]!;
    sq += p.W1[q]! * p.W1[q]!;
  }
  for (let k = 0; k < h; k++) {
    gW2[k]! += lambda * p.W2[k]!;
    sq += p.W2[k]! * p.W2[k]!;
  }
  return { loss: loss / n + (lambda / 2) * sq, grad: { W1: gW1, b1: gb1, W2: gW2, b2: gb2 } };
}

/**
 * Reference MLP Hessian-vector product by a central difference of {@link mlpReference}'s exact
 * gradient: Hv ≈ (∇R(θ + εv) − ∇R(θ − εv)) / 2ε. The O(ε²) truncation and O(eps/ε) rounding
 * errors balance near ε = 1e-5, giving ~1e-9 relative accuracy, enough to tell a correct
 * forward-over-reverse HVP from a wrong one.
 *
 * @param m the problem (uses `m.params` and `m.v`).
 * @param eps step; default 1e-5.
 *
 * @example
 * ```ts
 * const hv = mlpHvpByDifferences(makeMlpProblem(0));
 * ```
 */
export function mlpHvpByDifferences(m: MlpProblem, eps = 1e-5): MlpParams {
  const shift = (sign: number): MlpParams => {
    const add = (a: Float64Array, b: Float64Array) => a.map((x, i) => x + sign * eps * b[i]!);
    const { params: p, v } = m;
    return { W1: add(p.W1, v.W1), b1: add(p.b1, v.b1), W2: add(p.W2, v.W2), b2: p.b2 + sign * eps * v.b2 };
  };
  const gp = mlpReference(m, shift(1)).grad;
  const gm = mlpReference(m, shift(-1)).grad;
  const diff = (a: Float64Array, b: Float64Array) => a.map((x, i) => (x - b[i]!) / (2 * eps));
  return { W1: diff(gp.W1, gm.W1), b1: diff(gp.b1, gm.b1), W2: diff(gp.W2, gm.W2), b2: (gp.b2 - gm.b2) / (2 * eps) };
}

/**
 * ‖a − b‖ / max(‖b‖, tiny) over several flattened pieces: one number that says whether two
 * gradients agree, insensitive to the gradient's overall scale.
 *
 * @param a the pieces of the first vector.
 * @param b the matching pieces of the reference.
 *
 * @example
 * ```ts
 * relativeError([new Float64Array([1, 2]), [3]], [new Float64Array([1, 2]), [3]]); // → 0
 * ```
 */
export function relativeError(a: ArrayLike<number>[], b: ArrayLike<number>[]): number {
  if (a.length !== b.length) throw new Error(`relativeError: ${a.length} pieces vs ${b.length}`);
  let num = 0;
  let den = 0;
  a.forEach((ai, k) => {
    const bk = b[k]!;
    if (ai.length !== bk.length) throw new Error(`relativeError: piece ${k} has length ${ai.length} vs ${bk.length}`);
    for (let i = 0; i < ai.length; i++) {
      num += (ai[i]! - bk[i]!) ** 2;
      den += bk[i]! ** 2;
    }
  });
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-300);
}

/**
 * Fails loudly when a result disagrees with its float64 reference, so a benchmark never times a
 * computation that is wrong; returns the error for the report.
 *
 * @param who the system measured (`unequal`, `jax-js`, …), for the message.
 * @param what the quantity (`logistic gradient`, …).
 *
 * @example
 * ```ts
 * checkAgainstReference('unequal', 'HVP', 3e-16, 1e-12); // → 3e-16
 * ```
 */
export function checkAgainstReference(who: string, what: string, err: number, tol: number): number {
  if (!(err <= tol)) throw new Error(`${who} ${what} disagrees with the float64 reference: relative error ${err} > ${tol}`);
  return err;
}

/** Parameters of the 784 → 128 → 10 tanh MLP: `W1` is row-major `d × h`, `W2` is `h × c`. */
export interface SoftmaxMlpParams {
  W1: Float64Array;
  b1: Float64Array;
  W2: Float64Array;
  b2: Float64Array;
}

/** The issue-12 MLP benchmark: data, one-hot targets, an evaluation point and an HVP direction. */
export interface SoftmaxMlpProblem {
  /** Features, row-major `n × d`, standard normal. */
  X: Float64Array;
  /** One-hot targets, row-major `n × c`. */
  Y: Float64Array;
  /** The class of each row, `0 … c − 1`. */
  labels: Int32Array;
  n: number;
  d: number;
  /** Hidden width (128). */
  h: number;
  /** Classes (10). */
  c: number;
  /** λ in (λ/2)(‖W1‖² + ‖W2‖²); biases are not regularised. */
  lambda: number;
  params: SoftmaxMlpParams;
  /** HVP direction, same shapes as `params`. */
  v: SoftmaxMlpParams;
}

/**
 * The MLP of issue 12: logits = tanh(X W1 + b1) W2 + b2 with 784 → 128 → 10, objective
 * R = mean softmax cross-entropy + (λ/2)(‖W1‖² + ‖W2‖²), n = 1000 rows, λ = 0.01. X is standard
 * normal; labels are drawn from a hidden linear softmax model (logit scale 2) so that classes are
 * neither separable nor noise; weights use LeCun-normal scaling.
 *
 * @param seed RNG seed; equal seeds give bit-identical problems.
 *
 * @example
 * ```ts
 * const m = makeSoftmaxMlpProblem(0);
 * // m.X.length → 784_000, m.params.W1.length → 784 * 128, m.params.W2.length → 128 * 10
 * ```
 */
export function makeSoftmaxMlpProblem(seed: number): SoftmaxMlpProblem {
  const n = 1000, d = 784, h = 128, c = 10;
  const rng = new Rng(seed + 0x12);
  const X = new Float64Array(n * d);
  for (let k = 0; k < X.length; k++) X[k] = rng.normal();
  // Hidden class directions with ‖column‖ ≈ 2, so each true logit is roughly N(0, 4).
  const T = Float64Array.from({ length: d * c }, () => (2 / Math.sqrt(d)) * rng.normal());
  const Y = new Float64Array(n * c);
  const labels = new Int32Array(n);
  const z = new Float64Array(c);
  for (let i = 0; i < n; i++) {
    for (let q = 0; q < c; q++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += X[i * d + j]! * T[j * c + q]!;
      z[q] = s;
    }
    const p = softmaxRow(z);
    let u = rng.uniform();
    let label = c - 1;
    for (let q = 0; q < c; q++) {
      u -= p[q]!;
      if (u < 0) {
        label = q;
        break;
      }
    }
    labels[i] = label;
    Y[i * c + label] = 1;
  }
  const gauss = (len: number, sd: number) => Float64Array.from({ length: len }, () => sd * rng.normal());
  const params: SoftmaxMlpParams = { W1: gauss(d * h, 1 / Math.sqrt(d)), b1: gauss(h, 0.1), W2: gauss(h * c, 1 / Math.sqrt(h)), b2: gauss(c, 0.1) };
  const v: SoftmaxMlpParams = { W1: gauss(d * h, 1), b1: gauss(h, 1), W2: gauss(h * c, 1), b2: gauss(c, 1) };
  return { X, Y, labels, n, d, h, c, lambda: 0.01, params, v };
}

/** softmax of one row, via exp(z − max z) so no exponent is positive. */
function softmaxRow(z: Float64Array): Float64Array {
  let m = -Infinity;
  for (const x of z) m = Math.max(m, x);
  const e = z.map((x) => Math.exp(x - m));
  let s = 0;
  for (const x of e) s += x;
  return e.map((x) => x / s);
}

/**
 * Reference objective and gradient of {@link makeSoftmaxMlpProblem}'s MLP by hand-written
 * backpropagation in float64 loops: with p = softmax(logits), ∂ℓ/∂logits = (p − y)/n.
 *
 * @param m the problem.
 * @param p parameters; default `m.params`.
 *
 * @example
 * ```ts
 * const m = makeSoftmaxMlpProblem(0);
 * const { loss, grad } = softmaxMlpReference(m); // grad has the shapes of m.params
 * ```
 */
export function softmaxMlpReference(m: SoftmaxMlpProblem, p: SoftmaxMlpParams = m.params): { loss: number; grad: SoftmaxMlpParams } {
  const { X, labels, n, d, h, c, lambda } = m;
  const gW1 = new Float64Array(d * h);
  const gb1 = new Float64Array(h);
  const gW2 = new Float64Array(h * c);
  const gb2 = new Float64Array(c);
  let loss = 0;
  const a = new Float64Array(h);
  const z = new Float64Array(c);
  const delta = new Float64Array(h);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < h; k++) a[k] = p.b1[k]!;
    for (let j = 0; j < d; j++) {
      const x = X[i * d + j]!;
      for (let k = 0; k < h; k++) a[k]! += x * p.W1[j * h + k]!;
    }
    for (let k = 0; k < h; k++) a[k] = Math.tanh(a[k]!);
    for (let q = 0; q < c; q++) {
      let s = p.b2[q]!;
      for (let k = 0; k < h; k++) s += a[k]! * p.W2[k * c + q]!;
      z[q] = s;
    }
    const pr = softmaxRow(z);
    const label = labels[i]!;
    loss -= Math.log(pr[label]!);
    delta.fill(0);
    for (let q = 0; q < c; q++) {
      const r = (pr[q]! - (q === label ? 1 : 0)) / n; // ∂(mean loss)/∂logit_q
      gb2[q]! += r;
      for (let k = 0; k < h; k++) {
        gW2[k * c + q]! += a[k]! * r;
        delta[k]! += p.W2[k * c + q]! * r;
      }
    }
    for (let k = 0; k < h; k++) {
      delta[k]! *= 1 - a[k]! * a[k]!; // back through tanh
      gb1[k]! += delta[k]!;
    }
    for (let j = 0; j < d; j++) {
      const x = X[i * d + j]!;
      for (let k = 0; k < h; k++) gW1[j * h + k]! += x * delta[k]!;
    }
  }
  let sq = 0;
  for (let q = 0; q < d * h; q++) {
    gW1[q]! += lambda * p.W1[q]!;
    sq += p.W1[q]! * p.W1[q]!;
  }
  for (let q = 0; q < h * c; q++) {
    gW2[q]! += lambda * p.W2[q]!;
    sq += p.W2[q]! * p.W2[q]!;
  }
  return { loss: loss / n + (lambda / 2) * sq, grad: { W1: gW1, b1: gb1, W2: gW2, b2: gb2 } };
}

/**
 * Reference HVP of {@link makeSoftmaxMlpProblem}'s objective by a central difference of
 * {@link softmaxMlpReference}'s exact gradient (ε = 1e-5: ~1e-9 relative accuracy, as in
 * {@link mlpHvpByDifferences}).
 *
 * @param m the problem (uses `m.params` and `m.v`).
 * @param eps step; default 1e-5.
 *
 * @example
 * ```ts
 * const hv = softmaxMlpHvpByDifferences(makeSoftmaxMlpProblem(0));
 * ```
 */
export function softmaxMlpHvpByDifferences(m: SoftmaxMlpProblem, eps = 1e-5): SoftmaxMlpParams {
  const keys = ['W1', 'b1', 'W2', 'b2'] as const;
  const shift = (sign: number): SoftmaxMlpParams => {
    const out = {} as SoftmaxMlpParams;
    for (const key of keys) out[key] = m.params[key].map((x, i) => x + sign * eps * m.v[key][i]!);
    return out;
  };
  const gp = softmaxMlpReference(m, shift(1)).grad;
  const gm = softmaxMlpReference(m, shift(-1)).grad;
  const out = {} as SoftmaxMlpParams;
  for (const key of keys) out[key] = gp[key].map((x, i) => (x - gm[key][i]!) / (2 * eps));
  return out;
}
