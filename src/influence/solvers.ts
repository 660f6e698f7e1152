/**
 * Inverse Hessian-vector products x ≈ (H + δI)⁻¹ v for H = ∇²R(θ̂), by four routes:
 *
 * - `exact`: the dense Hessian and its Cholesky factor (factorised once, then two triangular
 *   solves per v). If H + δI is not positive definite this throws, reporting the smallest
 *   eigenvalue (Householder tridiagonalisation + Sturm bisection, `linalg.ts`).
 * - `cg`: conjugate gradient on engine HVPs (forward-over-reverse), to a relative residual `tol`.
 * - `lissa`: Agarwal et al.'s Neumann series. The iterate h ← v + (1 − d) h − H̃ h / s (H̃ a
 *   mini-batch Hessian, or H itself) has fixed point s (H + s d I)⁻¹ v, so the result is h / s and the
 *   effective damping is s·d (proofs/lissa.md). Two variants: the deterministic full-batch recursion
 *   (H̃ = H; the default, iterated to a tolerance) and the stochastic one the papers run (mini-batch
 *   H̃ of `batchSize` rows, a fixed recursion `depth`, `repeats` independent runs averaged). It
 *   converges when every eigenvalue μ of H̃ satisfies 0 < d + μ/s < 2, i.e. s > μ_max / (2 − d) and
 *   μ_min > −s·d. A scale too small makes the iterate grow geometrically, which is detected and
 *   thrown as {@link LissaDivergenceError}; an indefinite or singular H + s·d·I (μ_min + s·d ≤ 0) is
 *   detected from the curvature along the series' terms and thrown as {@link IndefiniteHessianError}
 *   (the series would otherwise grow along that direction and return a wrong sign).
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
 * No silent caps: CG reaching `cg.maxIter` above `cg.tol`, or full-batch LiSSA reaching `maxDepth`
 * above `tol`, throws {@link ConvergenceError} (iterations, residual and tolerance in the message and
 * as fields); `allowUnconverged: true` returns the partial result with `info.converged = false`.
 *
 * @module
 */
import { UNIT_ROUNDOFF_F32, UNIT_ROUNDOFF_F64, isFloat32 } from '../core/precision.ts';
import type { Pytree } from '../core/pytree.ts';
import { Rng } from '../core/rng.ts';
import type { Objective } from '../nn/objective.ts';
import { cgCapMessage, conjugateGradient } from '../optim/cg.ts';
import { ConvergenceError, IndefiniteHessianError } from '../optim/errors.ts';
import { addGauge, gaugeOperator } from '../linalg/gauge.ts';
import { cholesky, choleskySolve, jacobiEigen } from '../linalg/dense.ts';
import { axpy, innerProduct, norm2 } from '../linalg/vector.ts';

/** The inverse-HVP methods. */
export type SolverName = 'exact' | 'cg' | 'lissa' | 'arnoldi';

/**
 * Options for LiSSA. The default is the deterministic full-batch recursion iterated to `tol`. The
 * stochastic variant as Agarwal et al. (2017) and Koh & Liang (2017) run it takes `batchSize` (rows
 * per mini-batch Hessian), a numeric `depth` (the recursion depth) and `repeats` (independent runs,
 * averaged): e.g. `{ batchSize: 10, depth: 5000, repeats: 10 }`.
 */
export interface LissaOptions {
  /**
   * s. Default 'auto': from a power-iteration estimate λ̂ of H's largest eigenvalue, s = λ̂/(1.8 − d)
   * with the full batch (safe while λ̂ > 0.9 λ_max), s = 1.5 λ̂ with mini-batches.
   */
  scale?: number | 'auto';
  /** d in the iterate (the effective damping is s·d). Default 0. */
  damping?: number;
  /**
   * Iterations per repeat. Default 'auto' (full batch only): iterate until the relative change
   * ‖h_j − h_{j−1}‖ / ‖h_j‖ falls below `tol`, at most `maxDepth` iterations (reaching the cap
   * throws {@link ConvergenceError}). A number J sums exactly J + 1 terms of the series, as the
   * stochastic variant's "recursion depth": a truncation asked for, so no tolerance applies
   * (`info.relativeChange` reports the last term's size with the full batch).
   */
  depth?: number | 'auto';
  /**
   * Stopping rule of depth 'auto': stop when ‖h_j − h_{j−1}‖ ≤ tol ‖h_j‖. The remaining error is
   * then about tol · s / λ_min relative. Default 1e-7; 1e-6 where the HVP is float32 (an engine HVP on
   * the gpu backend).
   */
  tol?: number;
  /** Cap for depth 'auto'. Default 20000. */
  maxDepth?: number;
  /**
   * Independent runs averaged: the stochastic variant's `repeats` (each run draws its own
   * mini-batches, so the mean's standard error falls as 1/√repeats). Default 1. With the full batch
   * every run is the same, so more than 1 only costs time.
   */
  repeats?: number;
  /** Mini-batch size for H̃ (default: the whole training set, H̃ = H). Needs a numeric `depth`. */
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
  /**
   * CG and LiSSA: return the partial result when the iteration cap is reached before the tolerance
   * (with `info.converged = false`) instead of throwing {@link ConvergenceError}. Default false.
   * An indefinite or singular Hessian still throws.
   */
  allowUnconverged?: boolean;
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
  /** CG and LiSSA with depth 'auto': whether `tol` was reached (false only with `allowUnconverged`). */
  converged?: boolean;
  /** LiSSA: ‖h_J − h_{J−1}‖ / ‖h_J‖ at the end of the last repeat (full batch; with mini-batches, of the last repeat). */
  relativeChange?: number;
  /**
   * LiSSA: the smallest Rayleigh quotient xᵀ(H + δI + s·d·I)x / ‖x‖² seen (along the series' terms with
   * the full batch, along the result with mini-batches): an upper bound on the smallest eigenvalue of
   * the system solved. Positive in every run that returns.
   */
  minCurvature?: number;
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

export { ConvergenceError, IndefiniteHessianError } from '../optim/errors.ts';

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
 * @throws {@link ConvergenceError} when CG or full-batch LiSSA reaches its cap above its tolerance
 *   (unless `allowUnconverged`); {@link IndefiniteHessianError} when CG, LiSSA or Arnoldi finds
 *   H + δI not positive definite (LiSSA: or singular to working precision);
 *   {@link LissaDivergenceError} for a LiSSA scale that is too small; `NotPositiveDefiniteError`
 *   from the exact solver, with the smallest eigenvalue. They come from `solve`, or already from
 *   here where the preparation finds the problem (the exact factorisation, Arnoldi's Ritz values,
 *   LiSSA's power iteration for the automatic scale).
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
      const maxIter = opts.cg?.maxIter ?? 2 * p;
      if (!(tol >= 0)) throw new Error(`cg: cg.tol must be ≥ 0, got ${tol}`);
      if (!(Number.isInteger(maxIter) && maxIter >= 1)) throw new Error(`cg: cg.maxIter must be a positive integer, got ${maxIter}`);
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
          const res = conjugateGradient(A, v, { tol, maxIter, allowUnconverged: true });
          info.hvps += res.iterations;
          info.residualHistory = res.residualHistory;
          info.converged = res.converged;
          if (res.negativeCurvature) {
            throw new IndefiniteHessianError(
              `cg: the Hessian${damping ? ` + ${damping}·I` : ''} is not positive definite (curvature ${res.negativeCurvature.curvature.toPrecision(4)} ` +
                `along CG direction ${res.negativeCurvature.iteration}); train to the optimum, or add damping greater than the magnitude of the most negative eigenvalue`,
              res.negativeCurvature.curvature,
              res.negativeCurvature.iteration,
            );
          }
          const residual = res.residualHistory[res.residualHistory.length - 1]!;
          if (!res.converged) {
            const message = cgCapMessage('cg', residual, res.iterations, maxIter, tol, 'cg.maxIter', 'cg.tol');
            if (!opts.allowUnconverged) throw new ConvergenceError(message, { method: 'cg', iterations: res.iterations, residual, tol });
            log(`${message} (returned: allowUnconverged)`);
          } else log(`cg: ${res.iterations} HVPs, relative residual ${residual.toExponential(2)}`);
          return res.x;
        },
        info,
      };
    }
    case 'lissa':
      return lissa(obj, theta, damping, opts.lissa ?? {}, log, hvpFloat32, opts.allowUnconverged ?? false);
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

/**
 * LiSSA (module notes; proofs/lissa.md). Write H' = H + δI (δ the caller's damping),
 * A = H' + s·d·I (the system actually solved: the result is A⁻¹v) and M = (1 − d)I − H'/s = I − A/s.
 *
 * Full batch, h_J = Σ_{t≤J} Mᵗ v is a truncated Neumann series. It is summed term by term,
 * Δ_t = M Δ_{t−1}, h_t = h_{t−1} + Δ_t (the same numbers as h ← v + M h in exact arithmetic),
 * because the HVP each term needs also gives, for free and without cancellation, the curvature
 * q_t = Δ_tᵀ A Δ_t / ‖Δ_t‖² of the system along it. That decides three things soundly:
 *
 * - q_t ≥ λ_min(A) for every vector (Rayleigh), so q_t ≤ 0 proves A is not positive definite, and
 *   q_t ≤ 64·u·s (u the HVP's unit roundoff) proves it singular to working precision. Conversely
 *   the terms are unnormalised power iterates of M: a mode with λ(A) ≤ 0 has Mᵗ-factor ≥ 1 and never
 *   decays while every convergent mode does, so q_t falls to that λ ≤ 0 geometrically fast — long
 *   before the sum visibly grows (on diag(1, −1e-4) at t ≈ 20, where the sum would need ~10⁴ steps
 *   to cross a growth bound). Without this check the series returns the sum of a growing mode:
 *   a wrong sign (indefinite) or a number that grows with the depth (singular).
 * - q_t ≥ 2s proves λ_max(A) ≥ 2s: M has an eigenvalue ≤ −1 and the series cannot converge
 *   (the scale is too small), as does ‖h_t‖ > 2(t + 1)‖v‖ (proofs/lissa.md, claim 3).
 * - At the cap, q_t ≈ the curvature of the slowest mode (it dominates the late terms), which
 *   predicts how many more iterations the tolerance needs and how far off the partial sum is.
 *
 * With mini-batches (the stochastic variant) the iterate h ← v + M_j h uses a fresh H̃_j each step,
 * so the terms are not power iterates of one matrix; the curvature of the full H' + s·d·I is then
 * measured once along the averaged result (one full-batch HVP), which is again a sound certificate.
 */
function lissa<P extends Pytree>(
  obj: Objective<P>,
  theta: Float64Array,
  delta: number,
  o: LissaOptions,
  log: (m: string) => void,
  hvpFloat32: boolean,
  allowUnconverged: boolean,
): InverseHvp {
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
  const fullHv = (v: Float64Array) => {
    const out = obj.hvp(theta, v);
    return delta ? axpy(delta, v, out) : out;
  };
  const Hv = full
    ? fullHv
    : (v: Float64Array) => {
        const out = obj.hvp(theta, v, sample());
        return delta ? axpy(delta, v, out) : out;
      };
  // A curvature below 64 u s is indistinguishable from 0 at the HVP's precision (u = 2⁻⁵³ or 2⁻²⁴).
  const u = hvpFloat32 ? UNIT_ROUNDOFF_F32 : UNIT_ROUNDOFF_F64;
  const damped = `H${delta ? ` + ${delta}·I` : ''}${d ? ' + s·d·I' : ''}`;
  const num = (x: number, digits = 3) => (x !== 0 && Math.abs(x) < 1e-3 ? x.toExponential(digits - 1) : x.toPrecision(digits));
  let lambdaMax: number | undefined;
  let hvps = 0;
  let scale: number;
  const autoScale = o.scale === undefined || o.scale === 'auto';
  if (autoScale && full && !(d < 1.8)) throw new Error(`lissa: the automatic full-batch scale s = λ̂/(1.8 − d) needs d < 1.8, got d = ${d}; give lissa.scale, or a smaller lissa.damping`);
  if (autoScale) {
    const pi = powerIteration(Hv, p, { iterations: o.powerIterations ?? 100, tol: 1e-4 });
    hvps += pi.iterations;
    lambdaMax = pi.value;
    if (!(lambdaMax > 0)) {
      // A Rayleigh quotient ≤ 0 is itself a certificate: the matrix has an eigenvalue ≤ it (with
      // mini-batches, the last batch's Hessian, which LiSSA needs positive definite too).
      const of = `${full ? 'H' : 'a mini-batch Hessian'}${delta ? ` + ${delta}·I` : ''}`;
      throw new IndefiniteHessianError(
        `lissa: power iteration for the automatic scale ended at the Rayleigh quotient ${lambdaMax.toPrecision(4)} ≤ 0 of ${of} ` +
          `(its eigenvalue of largest magnitude is negative), so it is not positive definite and no scale makes the series converge to a meaningful answer; ` +
          'train to a minimum, or add damping greater than the magnitude of the most negative eigenvalue',
        lambdaMax,
        pi.iterations,
      );
    }
    // Convergence needs s > λ_max / (2 − d) and the rate is 1 − (λ_min + s d)/s, so the smallest
    // safe s is the fastest. Full batch: s = λ̂_max / (1.8 − d) is safe while the estimate (which
    // approaches λ_max from below) is above 0.9 λ_max; the top eigen-direction then contracts by
    // |1 − λ_max/s| ≈ 0.8 per step. Mini-batch Hessians spread further: s = 1.5 λ̂_max.
    scale = full ? lambdaMax / (1.8 - d) : 1.5 * lambdaMax;
    log(`lissa: power iteration (${pi.iterations} HVPs) estimates λ_max ≈ ${lambdaMax.toPrecision(5)}; scale s = ${scale.toPrecision(5)}`);
  } else scale = o.scale as number;
  if (!(scale > 0 && Number.isFinite(scale))) throw new Error(`lissa: scale must be a finite number > 0, got ${scale}`);
  const repeats = o.repeats ?? 1;
  if (!(Number.isInteger(repeats) && repeats >= 1)) throw new Error(`lissa: repeats must be a positive integer, got ${repeats}`);
  const auto = o.depth === undefined || o.depth === 'auto';
  if (auto && !full) throw new Error("lissa: depth 'auto' needs the full-batch Hessian; give a numeric depth with batchSize");
  const maxDepth = auto ? (o.maxDepth ?? 20000) : (o.depth as number);
  if (!(Number.isInteger(maxDepth) && maxDepth >= 1)) throw new Error(`lissa: ${auto ? 'maxDepth' : 'depth'} must be a positive integer, got ${maxDepth}`);
  const tol = o.tol ?? (hvpFloat32 ? 1e-6 : 1e-7);
  if (!(tol >= 0)) throw new Error(`lissa: tol must be ≥ 0, got ${tol}`);
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
          return full ? runFull(v) : runBatched(v);
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

  function diverged(j: number, hnorm: number, vnorm: number, q?: number): LissaDivergenceError {
    const why = q === undefined ? `‖h‖ = ${hnorm.toExponential(3)} vs ‖v‖ = ${vnorm.toExponential(3)}` : `curvature ${q.toPrecision(4)} ≥ 2s along term ${j}`;
    return new LissaDivergenceError(
      `lissa diverged at iteration ${j} (${why}): ` +
        `the scale s = ${scale.toPrecision(4)} is too small for the Hessian${full ? '' : ` mini-batches (batch ${batchSize})`}; ` +
        `LiSSA needs s > λ_max / (2 − d)${lambdaMax ? ` (λ_max ≈ ${lambdaMax.toPrecision(4)})` : ''}: raise lissa.scale (or leave it 'auto')`,
      j,
      scale,
    );
  }

  function notPositiveDefinite(q: number, where: string, iteration: number): IndefiniteHessianError {
    const floor = 64 * u * scale;
    const message =
      q <= 0
        ? `lissa: ${damped} is not positive definite: its curvature (Rayleigh quotient) along ${where} is ${num(q, 4)} ≤ 0, ` +
          `so it has an eigenvalue ≤ ${num(q, 4)}; the Neumann series grows along that direction and would return a wrong sign. ` +
          `Train to a minimum, or add damping greater than the magnitude of the most negative eigenvalue (at least ${num(-q)}; the 'exact' solver reports it)`
        : `lissa: ${damped} is singular to the precision of the HVP: its curvature along ${where} is ${num(q)} ≤ 64·u·s = ${num(floor)}, ` +
          'so the system has no stable solution and the Neumann series grows with the depth instead of converging. ' +
          `Add damping (δ > 0, e.g. ${num(1e-4 * scale, 2)}, 1e-4 of the scale) or L2 regularisation, or make sure v lies in the Hessian's range`;
    return new IndefiniteHessianError(message, q, iteration);
  }

  /** The deterministic full-batch recursion, summed term by term (see above). */
  function runFull(v: Float64Array): Float64Array {
    const vnorm = norm2(v);
    const floor = 64 * u * scale;
    const h = Float64Array.from(v);
    let term = Float64Array.from(v);
    let next = new Float64Array(p);
    let q = NaN;
    let minQ = Infinity;
    let change = vnorm === 0 ? 0 : 1;
    let depth = 0;
    for (let j = 1; j <= maxDepth && change > 0; j++) {
      depth = j;
      const Ht = Hv(term);
      info.hvps++;
      let tt = 0;
      let tHt = 0;
      for (let i = 0; i < p; i++) {
        tt += term[i]! * term[i]!;
        tHt += term[i]! * Ht[i]!;
      }
      q = tHt / tt + scale * d;
      if (q < minQ) minQ = q;
      if (q <= floor) throw notPositiveDefinite(q, `term ${j - 1} of the Neumann series`, j - 1);
      if (q >= 2 * scale) throw diverged(j, NaN, vnorm, q);
      let tn = 0;
      let hn = 0;
      for (let i = 0; i < p; i++) {
        const x = (1 - d) * term[i]! - Ht[i]! / scale;
        next[i] = x;
        h[i] += x;
        tn += x * x;
        hn += h[i]! * h[i]!;
      }
      [term, next] = [next, term];
      // With every eigenvalue of M in [−1, 1], ‖h_j‖ ≤ (j + 1)‖v‖; twice that is growth no
      // convergent run can show (a non-finite value included).
      if (!Number.isFinite(hn) || Math.sqrt(hn) > 2 * (j + 1) * vnorm) throw diverged(j, Math.sqrt(hn), vnorm);
      change = Math.sqrt(tn / hn);
      if (auto && change <= tol) break;
    }
    info.depth = [depth];
    info.relativeChange = change;
    info.minCurvature = minQ;
    info.converged = auto ? change <= tol : undefined;
    if (auto && !info.converged) {
      const message = capMessage(change, q);
      if (!allowUnconverged) throw new ConvergenceError(message, { method: 'lissa', iterations: depth, residual: change, tol });
      log(`${message} (returned: allowUnconverged)`);
    } else log(`lissa: depth ${depth}, relative change ${change.toExponential(2)}, effective damping s·d = ${(scale * d).toPrecision(4)}`);
    // The fixed point is s (H' + s d I)⁻¹ v: divide by s.
    for (let i = 0; i < p; i++) h[i] = h[i]! / scale;
    return h;
  }

  /** The stochastic variant: fresh mini-batch Hessians each step, `repeats` runs averaged. */
  function runBatched(v: Float64Array): Float64Array {
    const vnorm = norm2(v);
    const acc = new Float64Array(p);
    info.depth = [];
    let change = 0;
    for (let r = 0; r < repeats; r++) {
      let h = Float64Array.from(v);
      let j = 1;
      for (; j <= maxDepth; j++) {
        const Hh = Hv(h);
        info.hvps++;
        let ch = 0;
        let hn = 0;
        const next = new Float64Array(p);
        for (let i = 0; i < p; i++) {
          const x = v[i]! + (1 - d) * h[i]! - Hh[i]! / scale;
          ch += (x - h[i]!) ** 2;
          hn += x * x;
          next[i] = x;
        }
        h = next;
        if (!Number.isFinite(hn) || Math.sqrt(hn) > 2 * (j + 1) * vnorm) throw diverged(j, Math.sqrt(hn), vnorm);
        change = hn > 0 ? Math.sqrt(ch / hn) : 0;
      }
      info.depth.push(maxDepth);
      axpy(1, h, acc);
    }
    // The fixed point is s (H' + s d I)⁻¹ v: divide by s (and average the repeats).
    for (let i = 0; i < p; i++) acc[i] = acc[i]! / (repeats * scale);
    info.relativeChange = change;
    const xx = innerProduct(acc, acc);
    if (xx > 0) {
      const q = innerProduct(acc, fullHv(acc)) / xx + scale * d;
      info.hvps++; // one full-batch HVP
      info.minCurvature = q;
      if (q <= 64 * u * scale) throw notPositiveDefinite(q, 'the result (full-batch Hessian)', repeats * maxDepth);
    }
    log(`lissa: ${repeats} × depth ${maxDepth} with batches of ${batchSize}, effective damping s·d = ${(scale * d).toPrecision(4)}`);
    return acc;
  }

  /** The cap message: the change reached, and what the curvature of the slowest mode predicts. */
  function capMessage(change: number, q: number): string {
    const rate = 1 - q / scale; // the late terms shrink by about this factor per step
    let predicted = '';
    if (rate > 0 && rate < 1) {
      const more = Math.ceil(Math.log(change / Math.max(tol, 1e-300)) / -Math.log(rate));
      // The tail of a geometric series with ratio `rate` beyond the last term, relative to the sum.
      const t = (change * rate) / (1 - rate);
      predicted =
        ` The slowest direction has curvature ≈ ${num(q)} against the scale s = ${num(scale)}, so each step removes only ` +
        `${num(q / scale, 2)} of its error: at least about ${more} more iterations are needed, and the partial sum is short by about ` +
        `${((100 * t) / (1 + t)).toPrecision(2)}% along it.`;
    }
    return (
      `lissa did not converge: after maxDepth = ${maxDepth} iterations the relative change ‖hⱼ − hⱼ₋₁‖/‖hⱼ‖ is ${change.toExponential(2)}, not ≤ tol = ${tol}.${predicted} ` +
      "Raise lissa.maxDepth, add damping, or use solver 'cg' (about √κ instead of κ iterations); allowUnconverged: true returns the partial result marked converged: false"
    );
  }
}
