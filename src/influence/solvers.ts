/**
 * Inverse Hessian-vector products x ≈ (H + δI)⁻¹ v for H = ∇²R(θ̂), by four routes:
 *
 * - `exact`: the dense Hessian and its Cholesky factor (factorised once, then two triangular
 *   solves per v). If H + δI is not positive definite this throws, reporting the smallest
 *   eigenvalue (Householder tridiagonalisation + Sturm bisection, `linalg.ts`).
 * - `cg`: conjugate gradient on engine HVPs (forward-over-reverse), to a relative residual `tol`.
 * - `lissa`: Agarwal et al.'s stochastic Neumann series. The iterate
 *   h ← v + (1 − d) h − H̃ h / s (H̃ a mini-batch Hessian, or H itself) has fixed point
 *   s (H + s d I)⁻¹ v, so the result is h / s and the effective damping is s·d
 *   (proofs/lissa.md). It converges when every eigenvalue μ of H̃ satisfies 0 < d + μ/s < 2, i.e.
 *   s > μ_max / (2 − d); outside that the iterate grows geometrically, which is detected (‖hⱼ‖ can
 *   reach at most (j + 1)‖v‖ when the iteration matrix has norm ≤ 1) and thrown as
 *   {@link LissaDivergenceError}.
 * - `arnoldi`: Schioppa et al. (2022): Arnoldi (= Lanczos with full re-orthogonalisation, H being
 *   symmetric) builds a Krylov basis, the top-k Ritz pairs (λⱼ, uⱼ) approximate H's largest
 *   eigenpairs, and H⁻¹ v ≈ Σⱼ uⱼ uⱼᵀ v / (λⱼ + δ): a low-rank inverse that ignores the rest of the
 *   spectrum, cheap to apply to many vectors and honest only about the top eigenspace.
 *
 * Objectives with gauge directions (softmax intercepts) have H u = 0 with every gradient ⊥ u: the
 * exact solver then factorises H + μ u uᵀ, which equals the pseudo-inverse on vectors ⊥ u; CG and
 * LiSSA stay in u's complement in exact arithmetic; CG adds μ u uᵀ as well, because rounding otherwise
 * leaves it a direction of curvature ≈ 0 once the rest has converged.
 *
 * @module
 */
import { isFloat32 } from '../core/precision.ts';
import type { Pytree } from '../core/pytree.ts';
import { Rng } from '../core/rng.ts';
import type { Objective } from '../nn/objective.ts';
import { conjugateGradient } from '../optim/cg.ts';
import { addGauge, gaugeOperator } from '../linalg/gauge.ts';
import { cholesky, choleskySolve, jacobiEigen } from '../linalg/dense.ts';
import { axpy, innerProduct, norm2 } from '../linalg/vector.ts';

/** The inverse-HVP methods. */
export type SolverName = 'exact' | 'cg' | 'lissa' | 'arnoldi';

/** Options for LiSSA. */
export interface LissaOptions {
  /**
   * s. Default 'auto': from a power-iteration estimate λ̂ of H's largest eigenvalue, s = λ̂/(1.8 − d)
   * with the full batch (safe while λ̂ ≥ 0.9 λ_max), s = 1.5 λ̂ with mini-batches.
   */
  scale?: number | 'auto';
  /** d in the iterate (the effective damping is s·d). Default 0. */
  damping?: number;
  /**
   * Iterations per repeat. Default 'auto' (full batch only): iterate until the relative change
   * ‖h_j − h_{j−1}‖ / ‖h_j‖ falls below `tol`, at most `maxDepth` iterations.
   */
  depth?: number | 'auto';
  /**
   * Stopping rule of depth 'auto': stop when ‖h_j − h_{j−1}‖ ≤ tol ‖h_j‖. The remaining error is
   * then about tol · s / λ_min relative. Default 1e-7; 1e-6 where the HVP is float32 (an engine HVP on
   * the gpu backend), whose rounding leaves a change of a few 1e-7 that never shrinks.
   */
  tol?: number;
  /** Cap for depth 'auto'. Default 20000. */
  maxDepth?: number;
  /** Independent runs averaged (useful with mini-batches). Default 1. */
  repeats?: number;
  /** Mini-batch size for H̃ (default: the whole training set, H̃ = H). */
  batchSize?: number;
  /** Seed for mini-batch sampling. Default 0. */
  seed?: number;
  /** Power-iteration steps for the automatic scale. Default 100 (stops early at 1e-4 relative change). */
  powerIterations?: number;
}

/** Options for CG. */
export interface CgSolverOptions {
  /**
   * Relative residual ‖(H + δI)x − v‖ / ‖v‖ to reach. Default 1e-10 (≈1e-6 relative accuracy at
   * κ ≈ 10⁴); 1e-6 where the HVP is float32 (an engine HVP on the gpu backend), since its true
   * residual stalls at about u·κ with u = 6e-8.
   */
  tol?: number;
  /** Iteration cap. Default 2p. */
  maxIter?: number;
}

/** Options for Arnoldi. */
export interface ArnoldiOptions {
  /** Number of top eigenpairs kept. Default 20. */
  k?: number;
  /** Krylov dimension (≥ k). Default 2k + 10 (at most p). */
  iterations?: number;
  /** Seed of the random start vector. Default 0. */
  seed?: number;
}

/** Which solver and how: shared by the influence API and the CLI. */
export interface SolverOptions {
  /** Default `exact` up to 3000 parameters, `cg` above. */
  solver?: SolverName;
  /** δ ≥ 0: every solver returns (H + δI)⁻¹ v. Needed where H is not PD (non-convex models). Default 0. */
  damping?: number;
  /** Settings of the `cg` solver. */
  cg?: CgSolverOptions;
  /** Settings of the `lissa` solver (also used for its power-iteration scale estimate). */
  lissa?: LissaOptions;
  /** Settings of the `arnoldi` solver. */
  arnoldi?: ArnoldiOptions;
  /** Progress messages (stderr in the CLI). */
  log?: (message: string) => void;
}

/** What happened in the last solve. */
export interface SolveInfo {
  /** The solver that ran. */
  solver: SolverName;
  /** δ as passed. */
  damping: number;
  /** The damping actually applied to H (δ, plus s·d for LiSSA). */
  effectiveDamping: number;
  /** HVPs (or matrix solves for exact) used. */
  hvps: number;
  /** CG: relative residual after each iteration. */
  residualHistory?: number[];
  /** CG: whether `tol` was reached. */
  converged?: boolean;
  /** LiSSA: the scale s (the iterate divides H̃ h by s; the result is h / s). */
  scale?: number;
  /** LiSSA: d in the iterate, so that the effective damping is s·d. */
  lissaDamping?: number;
  /** LiSSA: the power-iteration estimate of H's largest eigenvalue λ_max (only when the scale was 'auto'). */
  lambdaMaxEstimate?: number;
  /** LiSSA: the iterations run in each repeat. */
  depth?: number[];
  /** Arnoldi: the top-k eigenvalue estimates. */
  eigenvalues?: number[];
}

/** A prepared inverse-HVP operator. */
export interface InverseHvp {
  /** (H + δI)⁻¹ v (approximately, for the iterative solvers). */
  solve(v: Float64Array): Float64Array;
  /** Details of the last solve (and of the preparation). */
  info: SolveInfo;
  /** The Cholesky factor of H + δI (+ gauge) when the solver is `exact`. */
  factor?: Float64Array;
}

/** Thrown when LiSSA's iterate grows without bound. */
export class LissaDivergenceError extends Error {
  constructor(
    message: string,
    /** The iteration (within its repeat) at which the growth was detected. */
    readonly iteration: number,
    /** The scale s in use; a larger one (s > λ_max / (2 − d)) restores convergence. */
    readonly scale: number,
  ) {
    super(message);
    this.name = 'LissaDivergenceError';
  }
}

/** Thrown when CG meets a direction of non-positive curvature. */
export class IndefiniteHessianError extends Error {}

/** Options for {@link powerIteration}. */
export interface PowerIterationOptions {
  /** Iteration cap. Default 100. */
  iterations?: number;
  /** Stop (after at least 4 iterations) when successive estimates differ by ≤ tol relative. Default 1e-4. */
  tol?: number;
  /** Seed of the random start vector. Default 12345. */
  seed?: number;
}

/** What {@link powerIteration} returns. */
export interface PowerIterationResult {
  /** The Rayleigh-quotient estimate of λ_max (0 when the operator maps the iterate to zero). */
  value: number;
  /** The unit-norm iterate: the estimate of the top eigenvector. */
  vector: Float64Array;
  /** Iterations (= operator applications) used. */
  iterations: number;
}

/** What {@link arnoldi} returns. */
export interface ArnoldiResult {
  /** The top-k Ritz values (eigenvalue estimates), decreasing. */
  values: Float64Array;
  /** The matching Ritz vectors, unit-norm and length `dim`: `vectors[j]` goes with `values[j]`. */
  vectors: Float64Array[];
  /** Operator applications (HVPs) used. */
  hvps: number;
}

/**
 * The largest eigenvalue of a symmetric PSD operator by power iteration (Rayleigh quotients).
 * The estimate approaches λ_max from below.
 *
 * @example
 * ```ts
 * powerIteration((v) => new Float64Array([2 * v[0], v[1]]), 2).value; // ≈ 2
 * ```
 */
export function powerIteration(
  matvec: (v: Float64Array) => Float64Array,
  dim: number,
  opts: PowerIterationOptions = {},
): PowerIterationResult {
  const rng = new Rng(opts.seed ?? 12345);
  let v = Float64Array.from({ length: dim }, () => rng.normal());
  let nv = norm2(v);
  for (let i = 0; i < dim; i++) v[i] = v[i]! / nv;
  let lambda = 0;
  let it = 0;
  for (; it < (opts.iterations ?? 100); it++) {
    const w = matvec(v);
    const next = innerProduct(v, w);
    nv = norm2(w);
    if (nv === 0) return { value: 0, vector: v, iterations: it + 1 };
    v = w.map((x) => x / nv);
    const done = it > 2 && Math.abs(next - lambda) <= (opts.tol ?? 1e-4) * Math.abs(next);
    lambda = next;
    if (done) break;
  }
  return { value: lambda, vector: v, iterations: it + 1 };
}

/**
 * The top eigenpairs of a symmetric operator by Arnoldi iteration with full re-orthogonalisation
 * (Schioppa et al. 2022), sorted by decreasing eigenvalue.
 *
 * @example
 * ```ts
 * const { values } = arnoldi((v) => new Float64Array([3 * v[0], v[1], 0.5 * v[2]]), 3, { k: 2, iterations: 3 });
 * // values ≈ [3, 1]
 * ```
 */
export function arnoldi(
  matvec: (v: Float64Array) => Float64Array,
  dim: number,
  opts: ArnoldiOptions = {},
): ArnoldiResult {
  const k = Math.min(opts.k ?? 20, dim);
  const m = Math.min(opts.iterations ?? 2 * k + 10, dim);
  if (m < k) throw new Error(`arnoldi: iterations (${m}) must be ≥ k (${k})`);
  const rng = new Rng(opts.seed ?? 0);
  const Q: Float64Array[] = [];
  let q = Float64Array.from({ length: dim }, () => rng.normal());
  let nq = norm2(q);
  Q.push(q.map((x) => x / nq));
  const Hm = new Float64Array(m * m); // the Hessenberg (here tridiagonal up to rounding) matrix
  let steps = 0;
  for (let j = 0; j < m; j++) {
    const w = matvec(Q[j]!);
    steps++;
    // Two passes of Gram-Schmidt keep Q orthonormal to rounding ("twice is enough").
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i <= j; i++) {
        const h = innerProduct(Q[i]!, w);
        if (i < m) Hm[i * m + j] += h;
        axpy(-h, Q[i]!, w);
      }
    }
    nq = norm2(w);
    if (j + 1 < m) {
      if (nq <= 1e-10 * Math.max(1, Math.abs(Hm[j * m + j]!))) {
        // The Krylov space is invariant: every eigenvalue it holds is found, but one start vector
        // only ever sees one direction per distinct eigenvalue (a repeated λ, such as λ itself on
        // the weights the data never touches, would be missed). Continue from a fresh random
        // vector orthogonal to Q, with a zero coupling entry: block Lanczos by deflation.
        const fresh = Float64Array.from({ length: dim }, () => rng.normal());
        for (let pass = 0; pass < 2; pass++) for (const qi of Q) axpy(-innerProduct(qi, fresh), qi, fresh);
        const nf = norm2(fresh);
        if (nf < 1e-10) break; // Q already spans the whole space
        Q.push(fresh.map((x) => x / nf));
        continue;
      }
      Hm[(j + 1) * m + j] = nq;
      Q.push(w.map((x) => x / nq));
    }
  }
  const size = Q.length;
  const T = new Float64Array(size * size);
  for (let i = 0; i < size; i++) for (let j = 0; j < size; j++) T[i * size + j] = 0.5 * (Hm[i * m + j]! + Hm[j * m + i]!);
  const { values, vectors } = jacobiEigen(T, size);
  const kk = Math.min(k, size);
  const out: Float64Array[] = [];
  for (let c = 0; c < kk; c++) {
    const u = new Float64Array(dim);
    for (let r = 0; r < size; r++) axpy(vectors[r * size + c]!, Q[r]!, u);
    out.push(u);
  }
  return { values: values.slice(0, kk), vectors: out, hvps: steps };
}

/**
 * Prepares an inverse-HVP operator for R's Hessian at θ̂ (see the module notes for each solver).
 *
 * @param obj the objective R.
 * @param theta θ̂ (ideally the optimum: influence functions assume ∇R(θ̂) = 0).
 * @param opts solver choice and its parameters.
 *
 * @example
 * ```ts
 * const inv = inverseHvp(obj, theta, { solver: 'cg', cg: { tol: 1e-10 } });
 * const s = inv.solve(testGradient);   // H⁻¹ ∇ℓ(z_test)
 * inv.info.residualHistory;            // CG's relative residuals
 * ```
 */
export function inverseHvp<P extends Pytree>(obj: Objective<P>, theta: Float64Array, opts: SolverOptions = {}): InverseHvp {
  const p = obj.dim;
  const solver = opts.solver ?? (p <= 3000 ? 'exact' : 'cg');
  const damping = opts.damping ?? 0;
  if (!(damping >= 0)) throw new Error(`inverseHvp: damping must be ≥ 0, got ${damping}`);
  const log = opts.log ?? (() => {});
  // What a residual or an iterate change can reach depends on the HVP's precision: the linear
  // models' fastHvp is plain float64 on any backend; the engine's HVP has the backend's.
  const hvpFloat32 = !obj.spec.fastHvp && isFloat32();
  const Hv = (v: Float64Array) => {
    const out = obj.hvp(theta, v);
    return damping ? axpy(damping, v, out) : out;
  };
  switch (solver) {
    case 'exact': {
      log(`exact: forming the ${p}×${p} Hessian and its Cholesky factor`);
      const H = obj.hessian(theta);
      for (let i = 0; i < p; i++) H[i * p + i] += damping;
      const L = cholesky(addGauge(H, p, obj.spec.gauge), p, damping ? `the damped Hessian H + ${damping}·I` : 'the Hessian of R');
      const info: SolveInfo = { solver, damping, effectiveDamping: damping, hvps: 0 };
      return {
        solve: (v) => {
          info.hvps++;
          return choleskySolve(L, p, v);
        },
        info,
        factor: L,
      };
    }
    case 'cg': {
      const tol = opts.cg?.tol ?? (hvpFloat32 ? 1e-6 : 1e-10);
      const info: SolveInfo = { solver, damping, effectiveDamping: damping, hvps: 0 };
      return {
        solve: (v) => {
          // With gauge directions u (H u = 0, v ⊥ u), rounding still leaks a little of u into the
          // residual, and once the rest has converged CG meets a direction of curvature ≈ 0 there.
          // Solving with H + μ Σ u uᵀ instead (μ = the Rayleigh quotient of v, inside H's spectrum)
          // changes nothing for v ⊥ u — the solution is the same pseudo-inverse one — and keeps
          // the system positive definite, exactly as the exact solver does.
          const gauge = obj.spec.gauge ?? [];
          let mu = 0;
          if (gauge.length) {
            const vv = innerProduct(v, v);
            mu = vv > 0 ? innerProduct(v, Hv(v)) / vv : 1;
            info.hvps += 1;
          }
          const A = gaugeOperator(Hv, gauge, mu);
          const res = conjugateGradient(A, v, { tol, maxIter: opts.cg?.maxIter ?? 2 * p });
          info.hvps += res.iterations;
          info.residualHistory = res.residualHistory;
          info.converged = res.converged;
          if (res.negativeCurvature) {
            throw new IndefiniteHessianError(
              `cg: the Hessian${damping ? ` + ${damping}·I` : ''} is not positive definite (curvature ${res.negativeCurvature.curvature.toPrecision(4)} ` +
                `along CG direction ${res.negativeCurvature.iteration}); train to the optimum or add damping`,
            );
          }
          log(`cg: ${res.iterations} HVPs, relative residual ${res.residualHistory[res.residualHistory.length - 1]!.toExponential(2)}`);
          return res.x;
        },
        info,
      };
    }
    case 'lissa':
      return lissa(obj, theta, damping, opts.lissa ?? {}, log, hvpFloat32 ? 1e-6 : 1e-7);
    case 'arnoldi': {
      const { values, vectors, hvps } = arnoldi(Hv, p, opts.arnoldi);
      log(`arnoldi: top eigenvalues ${Array.from(values.slice(0, 5), (x) => x.toPrecision(4)).join(', ')}…`);
      const info: SolveInfo = { solver, damping, effectiveDamping: damping, hvps, eigenvalues: Array.from(values) };
      // Ritz values at rounding level belong to exact null directions (a gauge such as the softmax
      // intercepts' common shift), which every gradient is orthogonal to: drop them. A clearly
      // negative one means the Hessian is indefinite.
      const floor = 1e-10 * Math.max(...values.map(Math.abs));
      const keep: number[] = [];
      for (const [j, lam] of values.entries()) {
        if (lam < -floor) throw new IndefiniteHessianError(`arnoldi: Ritz value ${j} is ${lam.toPrecision(4)} < 0; the (damped) Hessian is not positive definite on its top eigenspace; add damping`);
        if (lam > floor) keep.push(j);
      }
      return {
        solve: (v) => {
          const x = new Float64Array(p);
          for (const j of keep) axpy(innerProduct(vectors[j]!, v) / values[j]!, vectors[j]!, x);
          return x;
        },
        info,
      };
    }
    default:
      throw new Error(`inverseHvp: unknown solver '${solver as string}' (exact, cg, lissa or arnoldi)`);
  }
}

function lissa<P extends Pytree>(obj: Objective<P>, theta: Float64Array, delta: number, o: LissaOptions, log: (m: string) => void, defaultTol: number): InverseHvp {
  const p = obj.dim;
  const n = obj.n;
  const batchSize = o.batchSize ?? n;
  if (!(Number.isInteger(batchSize) && batchSize >= 1 && batchSize <= n)) throw new Error(`lissa: batchSize must be an integer in 1..${n}, got ${batchSize}`);
  const full = batchSize === n;
  const d = o.damping ?? 0;
  if (!(d >= 0 && d < 2)) throw new Error(`lissa: damping d must be in [0, 2), got ${d}`);
  const rng = new Rng(o.seed ?? 0);
  const sample = (): number[] => {
    // Without replacement within a batch (a partial Fisher-Yates shuffle).
    const perm = rng.permutation(n);
    return perm.slice(0, batchSize);
  };
  const Hv = (v: Float64Array) => {
    const out = full ? obj.hvp(theta, v) : obj.hvp(theta, v, sample());
    return delta ? axpy(delta, v, out) : out;
  };
  let lambdaMax: number | undefined;
  let hvps = 0;
  let scale: number;
  const autoScale = o.scale === undefined || o.scale === 'auto';
  if (autoScale) {
    const pi = powerIteration(Hv, p, { iterations: o.powerIterations ?? 100, tol: 1e-4 });
    hvps += pi.iterations;
    lambdaMax = pi.value;
    // Convergence needs s > λ_max / (2 − d) and the rate is 1 − (λ_min + s d)/s, so the smallest
    // safe s is the fastest. Full batch: s = λ̂_max / (1.8 − d) is safe while the estimate (which
    // approaches λ_max from below) is within 10% of λ_max; the top eigen-direction then contracts by
    // |1 − λ_max/s| ≈ 0.8 per step. Mini-batch Hessians spread further: s = 1.5 λ̂_max.
    scale = full ? lambdaMax / (1.8 - d) : 1.5 * lambdaMax;
    log(`lissa: power iteration (${pi.iterations} HVPs) estimates λ_max ≈ ${lambdaMax.toPrecision(5)}; scale s = ${scale.toPrecision(5)}`);
  } else scale = o.scale as number;
  if (!(scale > 0)) throw new Error(`lissa: scale must be > 0, got ${scale}`);
  const repeats = o.repeats ?? 1;
  const auto = o.depth === undefined || o.depth === 'auto';
  if (auto && !full) throw new Error("lissa: depth 'auto' needs the full-batch Hessian; give a numeric depth with batchSize");
  const maxDepth = auto ? (o.maxDepth ?? 20000) : (o.depth as number);
  const tol = o.tol ?? defaultTol;
  const info: SolveInfo = {
    solver: 'lissa',
    damping: delta,
    effectiveDamping: delta + scale * d,
    hvps,
    scale,
    lissaDamping: d,
    lambdaMaxEstimate: lambdaMax,
  };
  return {
    info,
    solve: (v) => {
      // The automatic scale rests on a power-iteration estimate, which approaches λ_max from below
      // and can stop short when the top two eigenvalues are close. If the iteration then diverges
      // (detected below), the estimate was too low: double s and start again. A scale the caller
      // chose is never changed; its divergence is reported.
      for (let attempt = 0; ; attempt++) {
        try {
          return run(v);
        } catch (e) {
          if (!(e instanceof LissaDivergenceError) || !autoScale || attempt >= 6) throw e;
          scale *= 2;
          info.scale = scale;
          info.effectiveDamping = delta + scale * d;
          log(`lissa: diverged with the estimated scale; retrying with s = ${scale.toPrecision(5)}`);
        }
      }
    },
  };

  function run(v: Float64Array): Float64Array {
    {
      const vnorm = norm2(v);
      const acc = new Float64Array(p);
      info.depth = [];
      for (let r = 0; r < repeats; r++) {
        let h = Float64Array.from(v);
        let j = 1;
        for (; j <= maxDepth; j++) {
          const Hh = Hv(h);
          info.hvps++;
          let change = 0;
          let hn = 0;
          const next = new Float64Array(p);
          for (let i = 0; i < p; i++) {
            const x = v[i]! + (1 - d) * h[i]! - Hh[i]! / scale;
            change += (x - h[i]!) ** 2;
            hn += x * x;
            next[i] = x;
          }
          h = next;
          // With every iteration matrix of norm ≤ 1, ‖h_j‖ ≤ (j + 1)‖v‖; twice that is growth no
          // convergent run can show, so the scale (or damping) is invalid.
          if (!Number.isFinite(hn) || Math.sqrt(hn) > 2 * (j + 1) * vnorm) {
            throw new LissaDivergenceError(
              `lissa diverged at iteration ${j} (‖h‖ = ${Math.sqrt(hn).toExponential(3)} vs ‖v‖ = ${vnorm.toExponential(3)}): ` +
                `the scale s = ${scale.toPrecision(4)} is too small for the Hessian${full ? '' : ` mini-batches (batch ${batchSize})`}; ` +
                `LiSSA needs s > λ_max / (2 − d)${lambdaMax ? ` (λ_max ≈ ${lambdaMax.toPrecision(4)})` : ''}, and a Hessian with no negative eigenvalues below −s·d`,
              j,
              scale,
            );
          }
          if (auto && Math.sqrt(change) <= tol * Math.sqrt(hn)) break;
        }
        info.depth.push(Math.min(j, maxDepth));
        axpy(1, h, acc);
      }
      // The fixed point is s (H + s d I)⁻¹ v: divide by s (and average the repeats).
      for (let i = 0; i < p; i++) acc[i] = acc[i]! / (repeats * scale);
      log(`lissa: depth ${info.depth.join(', ')}, effective damping s·d = ${(scale * d).toPrecision(4)}`);
      return acc;
    }
  }
}
