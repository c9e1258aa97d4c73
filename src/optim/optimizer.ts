/** What every optimizer offers the trainer: an in-place update and a state to checkpoint. */
export interface OptimizerState {
  step: number;
  tensors: Record<string, Float32Array>;
}

export interface Optimizer {
  step: number;
  update(grads: readonly Float32Array[], lr: number, gradScale?: number): void;
  state(): OptimizerState;
  loadState(s: OptimizerState): void;
}
