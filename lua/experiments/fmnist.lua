-- SWAP on Fashion-MNIST with the `cnn` model: the `make demo` experiment.
-- Phase 1 trains one model with a large global batch (2048) over 2 MPI ranks: warm-up, then linear decay to 0
-- over 10 epochs (the stop threshold is not reached: phase 1 here is exactly the large-batch baseline); phase 2
-- refines 2 workers independently with small batches (128), each with its own data order and flips, for 5
-- epochs (on 2 cores the two run side by side, one core each); phase 3 averages them and recomputes the
-- batch-norm statistics. Phase 2's workers and epochs were chosen on a validation split (data.val_split =
-- 10000; results/fmnist/tune): 2 x 5 epochs beat 2 x 3 and 4 x 3 there, and matched the small-batch model.
-- See docs/config.md for every setting, README "Measured" for what it gives and why.
return {
  name = "fmnist-swap", dataset = "fashion-mnist", model = "cnn", seed = 1,
  augment = { flip = true },
  phase1 = { ranks = 2, batch = 2048, lr = 0.8, warmup = 0.15, max_epochs = 10, stop_train_acc = 1.0 },
  phase2 = { workers = 2, batch = 128, epochs = 5, lr = 0.15, schedule = "linear" },
  phase3 = { bn_batches = 100 },
  -- The small-batch baseline the demo prints beside SWAP is CUT SHORT to 3 epochs so `make demo` stays under
  -- 10 minutes on 2 cores; README's table uses the full 8 (--set baselines.small.epochs=8), the run that
  -- reaches ~91.6%. No large-batch baseline is listed: phase 1 above runs its whole schedule, so it *is* the
  -- large-batch model (same init, data order and schedule) and its row in the summary is that baseline.
  baselines = { small = { batch = 128, epochs = 3, lr = 0.15, ranks = 1 } },
}
