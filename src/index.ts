/**
 * unequal: float64 tensors, a from-scratch autodiff engine whose transformations nest to any order,
 * and the training-sample weighting methods built on it.
 *
 * The transformations follow JAX's names and call shapes: `grad`, `valueAndGrad`, `vjp`, `jvp`,
 * `vmap`, `jacrev`, `jacfwd`, `hessian`, `hvp`, `stopGradient`, `customVjp`.
 *
 * @example
 * ```ts
 * import { grad, tensor, tanh } from 'unequal';
 * const d3 = grad(grad(grad((x) => tanh(x))));
 * d3(tensor(0)).item(); // −2
 * ```
 *
 * @module unequal
 */
export { Tensor, ConcreteTensor, type TensorLike, type NestedArray, type TensorData, type NumericArray } from './core/tensor.ts';
export { Tracer, Trace, type Primitive, setDebugNans } from './core/trace.ts';
export type { Shape } from './base/shape.ts';
export {
  tensor,
  asTensor,
  zeros,
  ones,
  full,
  arange,
  eye,
  randomUniform,
  randomNormal,
  fromNdarray,
  toNdarray,
} from './core/create.ts';
export { Rng } from './core/rng.ts';
export { type Pytree, type TreeDef, type LeafDef, type NoneDef, type ArrayDef, type ObjectDef, type Flattened, treeFlatten, treeUnflatten, treeMap, MAX_TREE_DEPTH } from './core/pytree.ts';

export { jvp } from './transforms/jvp.ts';
export { vjp } from './transforms/reverse.ts';
export { vmap, type VmapOptions } from './transforms/vmap.ts';
export {
  grad,
  valueAndGrad,
  jacrev,
  jacfwd,
  hessian,
  hvp,
  type GradOptions,
  type JacobianOptions,
  type HvpOptions,
} from './transforms/api.ts';
export { customVjp, type CustomVjpFunction } from './transforms/custom-vjp.ts';
export { makeJaxpr, evalJaxpr, Jaxpr, JaxprVar, type JaxprAtom, type JaxprLiteral, type JaxprEquation, type JaxprCounts, type PrimitiveCount, type JaxprJson, type JaxprJsonVar, type JaxprJsonConst, type JaxprJsonEquation } from './transforms/jaxpr.ts';
export { linearize, linearTranspose, type LinearizedFunction } from './transforms/linearize.ts';
export { checkpoint } from './transforms/checkpoint.ts';

export * from './ops/arith.ts';
export * from './ops/reduce.ts';
export * from './ops/shape-ops.ts';
export * from './ops/products.ts';
export * from './ops/nn.ts';
export * from './ops/losses.ts';
export * from './ops/conv.ts';

export { setBackend, getBackend, registerBackend, type GpuOptions, type CpuOptions, type Factory } from './backend/index.ts';
export type { Backend, Storage, WindowPlan, ConvOp, ConvPlan } from './backend/backend.ts';
export { UNARY_OPS, BINARY_OPS, REDUCE_OPS, type UnaryOp, type BinaryOp, type ReduceOp } from './base/op-list.ts';
export { tidy, dispose } from './core/memory.ts';

export { cholesky, choleskySolve, smallestEigenvalue, jacobiEigen, symmetricEigen, NotPositiveDefiniteError, type SymmetricEigen } from './linalg/dense.ts';
export { pearson } from './linalg/vector.ts';
export { Objective, paramLayout, perExampleGradients, type PerExampleLoss, type ObjectiveSpec, type ParamLayout } from './nn/objective.ts';
export { linearModel, linearObjective, linearHessian, classesOf, type LinearModel, type LinearModelKind, type LinearParams, type BinaryParams, type SoftmaxParams, type Dataset } from './nn/linear-models.ts';
export {
  NoMinimiserError,
  checkMinimiser,
  checkTrainedMinimiser,
  separationCertificate,
  linearProblemBytes,
  type NoMinimiserReason,
  type CheckMinimiserOptions,
  type SeparationCertificate,
  type NamedLabels,
} from './nn/linear-models.ts';
export * from './nn/mlp.ts';
export * from './nn/cnn.ts';
export { newton, ConvergenceError, type NewtonOptions, type TrainResult } from './optim/newton.ts';
export type { ConvergenceDetails } from './optim/errors.ts';
export { lbfgs, minimizeLbfgs, type LbfgsOptions } from './optim/lbfgs.ts';
export { conjugateGradient, type CgOptions, type CgResult, type NegativeCurvature } from './optim/cg.ts';
export * from './optim/sgd.ts';
export * from './influence/index.ts';
export * from './influence/attribution.ts';
export * from './influence/curvature.ts';
export * from './reweight/index.ts';
// The datasets read MNIST files (node:fs), so they are exported from 'unequal/node' (src/node.ts):
// the root stays free of Node builtins and bundles for the browser.
