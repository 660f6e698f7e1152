/**
 * Attribution estimators beyond influence functions, and the metrics that judge them against
 * ground truth (issue 14): gradient similarity, TracIn, TRAK; LDS, LOO correlation, Spearman, and
 * noisy-label detection AUC; the subset-retraining ground truth for convex models. Every estimator
 * returns a {@link ScoreMatrix} oriented like the default influence score (positive = the point
 * helps).
 *
 * @module
 */
export { influenceScores, scoreRow, testGradients, type ScoreMatrix, type TestSet } from './scores.ts';
export { gradDot, gradCos } from './similarity.ts';
export { CheckpointRecorder, tracin, trainSgdCheckpointed, type Checkpoint, type SgdCheckpointOptions, type SgdCheckpointResult } from './tracin.ts';
export { trak, gaussianProjection, type TrakModel, type TrakOptions } from './trak.ts';
export { averageRanks, spearman, lds, looCorrelation, detectionAuc, type LdsOptions, type PerTestMetric } from './metrics.ts';
export { retrainOnSubsets, type SubsetRetrainOptions, type SubsetRetraining } from './lds.ts';
