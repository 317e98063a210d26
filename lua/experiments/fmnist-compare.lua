-- Phase-2 modes at equal compute on Fashion-MNIST: SWAP's independent workers, WASH (weight shuffling) and
-- PAPA (pull toward the population mean), each with 4 members x 2 epochs at batch 128 from the same phase-1
-- model. On a cluster `swap-slurm submit` runs the three as a sweep; on one machine
-- `scripts/analysis/compare_modes.sh` runs phase 1 once and the three phase 2s from it.
return {
  name = "fmnist-compare", dataset = "fashion-mnist", model = "cnn", seed = 1,
  augment = { flip = true },
  phase1 = { ranks = 2, batch = 2048, lr = 0.8, warmup = 0.15, max_epochs = 8, stop_train_acc = 0.92 },
  phase2 = { workers = 4, batch = 128, epochs = 2, lr = 0.15, schedule = "linear",
             wash = { p = 0.01 }, papa = { every = 10, alpha = 0.99 } },
  phase3 = { bn_batches = 100 },
  sweep = { ["phase2.mode"] = { "independent", "wash", "papa" } },
}
