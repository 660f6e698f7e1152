/**
 * `erf(x) = (2/√π) ∫₀ˣ e^(−t²) dt`; d/dx erf x = (2/√π) e^(−x²). A primitive because no composite
 * of the others computes it (GELU needs it). The rule is written with primitives, so it
 * differentiates again: d²/dx² erf x = −2x · (2/√π) e^(−x²).
 * @module
 */
import type { Tensor } from '../core/tensor.ts';
import { bind } from '../core/trace.ts';
import { fullLike, unaryPrimitive } from './elementwise.ts';
import { exp } from './exp.ts';
import { mul } from './mul.ts';
import { neg } from './neg.ts';

/** 2/√π, correctly rounded. */
const TWO_OVER_SQRT_PI = 1.1283791670955126;

export const erfP = unaryPrimitive('erf', 'erf', (v, x) => mul(v, mul(fullLike(x, TWO_OVER_SQRT_PI), exp(neg(mul(x, x))))));
/** Elementwise error function (primitive binder). */
export const erf = (x: Tensor): Tensor => bind(erfP, [x], {});
