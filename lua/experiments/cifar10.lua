-- SWAP on CIFAR-10 with `resnet9` (the DAWNBench network: its classifier output is scaled by 0.125), the
-- DAWNBench augmentation (pad-4 random crop, horizontal flip, 8x8 cutout) and label smoothing 0.2, compared
-- with a small-batch and a large-batch model trained from scratch (`baselines`).
--
-- Data: datasets/get-cifar.sh puts the binary CIFAR-10 files in datasets/cifar-10-batches-bin (the default
-- below); elsewhere pass --set data_dir=DIR (a checkout beside ../shared: --set data_dir=../shared/datasets).
--
--   bin/swap-run lua/experiments/cifar10.lua                     # SWAP, then both baselines
--   bin/swap-run lua/experiments/cifar10.lua --only baselines
--   bin/swap-slurm submit lua/experiments/cifar10.lua            # baselines as their own jobs, beside the chain
--
-- The recipe numbers are the knobs below (width, epochs, batches, learning rates); every one may also be set
-- on the command line (--set phase1.max_epochs=4). Sized for a 2-core machine: width 16, 8 epochs; one seed
-- of the whole comparison (phase 1 = the large baseline, 4 workers x 3 epochs, the small baseline) takes
-- about 20 minutes there (results/README.md). Width 32+ and more epochs are the better network on a cluster.
-- Phase 1 runs its whole schedule (stop_train_acc = 1), so it is the same run as the `large` baseline (same
-- init, data order and schedule): `--set baselines.large=nil` skips training it twice, and phase 1's row is then
-- the large-batch result. The phase-2 epochs and learning rate were chosen on a validation split
-- (data.val_split = 5000; the figures are in results/README.md), never on the test set.
local width = 16
local large_batch, small_batch = 1024, 128
local epochs = 8            -- budget of phase 1 and of both baselines
return {
  name = "cifar10-swap", dataset = "cifar10", data_dir = "datasets", model = "resnet9", width = width, seed = 1,
  label_smoothing = 0.2,
  augment = { crop_pad = 4, flip = true, cutout = 8 },
  optim = { momentum = 0.9, nesterov = true, weight_decay = 5e-4 },
  phase1 = { ranks = 2, batch = large_batch, lr = 0.8, warmup = 0.2, max_epochs = epochs, stop_train_acc = 1.0 },
  phase2 = { workers = 4, batch = small_batch, epochs = 3, lr = 0.1, warmup = 0.1, schedule = "linear" },
  phase3 = { bn_batches = 100, eval_batch = 500 },
  baselines = {
    -- lr: phase 1's, scaled linearly by batch / phase1.batch (so 0.1 at 128), the usual rule
    small = { batch = small_batch, epochs = epochs },
    large = { batch = large_batch, epochs = epochs, ranks = 2 },
  },
}
