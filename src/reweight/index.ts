/**
 * Sample reweighting: Learning to Reweight, Data Dropout, and the loss-based baselines they are
 * measured against, all as {@link Weighting}s for one training loop.
 *
 * @module
 */
export {
  binaryLogitLoss,
  l2rwWeights,
  metaGradientAutodiff,
  metaGradientMlp,
  metaGradientPerExample,
  metaGradientForward,
  mlpLoss,
  mlpMetaGradient,
  type Batch,
  type LossFromLogits,
  type MetaRoute,
  type MlpMetaOptions,
} from './l2rw.ts';
export {
  classBalanced,
  classAwareHardMining,
  classAwareHardWeights,
  classBalancedWeights,
  curriculum,
  curriculumSize,
  focal,
  l2rw,
  lossesOf,
  ohem,
  ohemWeights,
  randomBatchWeights,
  randomWeights,
  resample,
  resamplingPool,
  selfPaced,
  selfPacedThreshold,
  subset,
  uniform,
} from './methods.ts';
export {
  gatherRows,
  trainWeighted,
  weightedObjective,
  type BatchDecision,
  type StepInfo,
  type StepRecord,
  type TrainingSet,
  type WeightedTrainOptions,
  type WeightedTrainResult,
  type Weighting,
} from './train.ts';
export {
  dataDropoutSelect,
  mlpDataDropout,
  predictedRemovalChange,
  sequentialDataDropout,
  type DataDropoutSelection,
  type LastLayerFit,
  type MlpDataDropoutOptions,
  type MlpDataDropoutResult,
  type SequentialDataDropoutResult,
} from './data-dropout.ts';
