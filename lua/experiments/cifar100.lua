-- SWAP on CIFAR-100 with `resnet9` (the DAWNBench network: its classifier output is scaled by 0.125), the
-- DAWNBench augmentation (pad-4 random crop, horizontal flip, 8x8 cutout) and label smoothing 0.2, compared
-- with a small-batch and a large-batch model trained from scratch (`baselines`).
--
-- Data: `datasets/get-cifar.sh cifar100` puts the binary CIFAR-100 files in datasets/cifar-100-binary (the
-- default below); elsewhere pass --set data_dir=DIR.
--
--   bin/swap-run lua/experiments/cifar100.lua                     # SWAP, then both baselines
--   bin/swap-run lua/experiments/cifar100.lua --only baselines
--   bin/swap-slurm submit lua/experiments/cifar100.lua            # baselines as their own jobs, beside the chain
--
-- The recipe numbers are the knobs below (width, epochs, batches, learning rates); every one may also be set
-- on the command line (--set phase1.max_epochs=8). Width 8 keeps one seed of the whole comparison within
-- about an hour on 2 cores; width 16+ is the better network on a cluster.
local width = 8
local large_batch, small_batch = 1024, 128
local epochs = 8            -- budget of phase 1 and of both baselines
return {
  name = "cifar100-swap", dataset = "cifar100", data_dir = "datasets", model = "resnet9", width = width, seed = 1,
  label_smoothing = 0.2,
  augment = { crop_pad = 4, flip = true, cutout = 8 },
  optim = { momentum = 0.9, nesterov = true, weight_decay = 5e-4 },
  phase1 = { ranks = 2, batch = large_batch, lr = 0.8, warmup = 0.2, max_epochs = epochs, stop_train_acc = 0.70 },
  phase2 = { workers = 4, batch = small_batch, epochs = 1, lr = 0.1, warmup = 0.1, schedule = "linear" },
  phase3 = { bn_batches = 100, eval_batch = 500 },
  baselines = {
    -- lr: phase 1's, scaled linearly by batch / phase1.batch (so 0.1 at 128), the usual rule
    small = { batch = small_batch, epochs = epochs },
    large = { batch = large_batch, epochs = epochs, ranks = 2 },
  },
}
