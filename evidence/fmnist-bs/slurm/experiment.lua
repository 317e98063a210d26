-- Batch-size sweep of SWAP's phase 1 on Fashion-MNIST (the sweep docs/cluster.md collects): the demo
-- experiment (lua/experiments/fmnist.lua) with phase-1 batches of 512 to 4096. Each value becomes its own
-- pipeline, results/fmnist-bs/phase1.batch=<B>/, submitted as an independent job chain by
--   bin/swap-slurm submit lua/experiments/sweep.lua
-- and gathered into one table by `bin/swap-slurm collect lua/experiments/sweep.lua`. The learning rate is
-- scaled linearly with the batch (0.8 at base_batch 2048), so every pipeline follows the same rule.
return {
  name = "fmnist-bs", dataset = "fashion-mnist", model = "cnn", seed = 1,
  augment = { flip = true },
  phase1 = { ranks = 2, batch = 2048, base_batch = 2048, lr = 0.8, warmup = 0.15, max_epochs = 8,
             stop_train_acc = 0.92 },
  phase2 = { workers = 4, batch = 128, epochs = 3, lr = 0.15, schedule = "linear" },
  phase3 = { bn_batches = 100 },
  sweep = { ["phase1.batch"] = { 512, 1024, 2048, 4096 } },
}
