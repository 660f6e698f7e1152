/**
 * The float64 error function against reference values from CPython's `math.erf` (Python 3.11.2),
 * generated with
 *
 *   /usr/bin/python3 -c 'import math; xs = [...]; print([[x, math.erf(x)] for x in xs])'
 *
 * The points cover the tiny-argument limit (2x/√π), both sides of the switch from the series to the
 * continued fraction at 1.5 (one ulp below, at and above), the tail where erf rounds to 1 near 6,
 * and x with erf x = 1/2 exactly to double precision.
 */
import { describe, expect, it } from 'vitest';
import { erf } from '../../src/backend/special.ts';

/** [x, erf x] from CPython's math.erf. */
const CPYTHON: [number, number][] = [
  [1e-300, 1.1283791670955126e-300], [1e-20, 1.1283791670955125e-20], [1e-8, 1.1283791670955126e-8],
  [0.0001, 0.00011283791633342487], [0.001, 0.0011283787909692365], [0.01, 0.011283415555849616],
  [0.1, 0.1124629160182849], [0.25, 0.2763263901682369], [0.4769362762044699, 0.5], [0.5, 0.5204998778130465],
  [0.75, 0.7111556336535151], [0.9, 0.7969082124228322], [1.0, 0.8427007929497149], [1.25, 0.9229001282564582],
  [1.4, 0.9522851197626487], [1.4999999999999998, 0.9661051464753106], [1.5, 0.9661051464753108],
  [1.5000000000000002, 0.9661051464753108], [1.75, 0.9866716712191824], [2.0, 0.9953222650189527],
  [2.5, 0.999593047982555], [3.0, 0.9999779095030014], [3.5, 0.9999992569016276], [4.0, 0.9999999845827421],
  [4.5, 0.9999999998033839], [5.0, 0.9999999999984626], [5.5, 0.9999999999999927], [5.9, 0.9999999999999999],
  [5.999999999999999, 1.0], [6.0, 1.0], [7.0, 1.0], [10.0, 1.0], [27.0, 1.0],
];

describe('erf (float64)', () => {
  it('is within 1e-15 relative of CPython math.erf, for x and −x', () => {
    for (const [x, want] of CPYTHON) {
      for (const s of [1, -1]) {
        const got = erf(s * x);
        expect(Math.abs(got - s * want), `erf(${s * x}) = ${got}, CPython ${s * want}`).toBeLessThanOrEqual(1e-15 * Math.abs(want));
      }
    }
  });

  it('is odd at zero, ±1 at ±∞ and NaN at NaN', () => {
    expect(Object.is(erf(0), 0)).toBe(true);
    expect(Object.is(erf(-0), -0)).toBe(true);
    expect(erf(Infinity)).toBe(1);
    expect(erf(-Infinity)).toBe(-1);
    expect(erf(NaN)).toBeNaN();
  });
});
