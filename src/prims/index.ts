/**
 * The primitive set: every operation with derivative and batching rules. Everything else in
 * unequal is composed from these. Adding a primitive means adding its file and one line here.
 *
 * @module
 */
export { neg, negP } from './neg.ts';
export { exp, expP } from './exp.ts';
export { log, logP } from './log.ts';
export { log1p, log1pP } from './log1p.ts';
export { sin, sinP } from './sin.ts';
export { cos, cosP } from './cos.ts';
export { tanh, tanhP } from './tanh.ts';
export { tanhGrad, tanhGradP } from './tanh-grad.ts';
export { relu, reluP } from './relu.ts';
export { reluGrad, reluGradP } from './relu-grad.ts';
export { sqrt, sqrtP } from './sqrt.ts';
export { abs, absP } from './abs.ts';
export { sign, signP } from './sign.ts';
export { erf, erfP } from './erf.ts';
export { add, addP } from './add.ts';
export { sub, subP } from './sub.ts';
export { mul, mulP } from './mul.ts';
export { div, divP } from './div.ts';
export { pow, powP } from './pow.ts';
export { maximum, maximumP } from './maximum.ts';
export * from './compare.ts';
export { select, selectP } from './select.ts';
export { reduceSum, reduceSumP, keptShape, reducedShape } from './reduce-sum.ts';
export { reduceMax, reduceMaxP } from './reduce-max.ts';
export { conv, convP, convInputGrad, convInputGradP, convKernelGrad, convKernelGradP, type ConvPlan } from './conv.ts';
export { windowMaxGather, windowMaxGatherP, windowMaxScatter, windowMaxScatterP, type WindowPlan } from './max-pool.ts';
export { logSumExp, logSumExpP } from './log-sum-exp.ts';
export { broadcastTo, broadcastToP } from './broadcast-to.ts';
export { reshape, reshapeP } from './reshape.ts';
export { transpose, transposeP, invertPermutation } from './transpose.ts';
export { slice, sliceP } from './slice.ts';
export { pad, padP } from './pad.ts';
export { concat, concatP } from './concat.ts';
export { take, takeP } from './take.ts';
export { scatterAdd, scatterAddP } from './scatter-add.ts';
export { gemm, matmulP } from './matmul.ts';
export { stopGradient, stopGradientP } from './stop-gradient.ts';
