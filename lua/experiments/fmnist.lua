-- SWAP on Fashion-MNIST with the `cnn` model: the `make demo` experiment (about 9 minutes on 2 cores).
-- Phase 1 trains one model with a large global batch over 2 MPI ranks (warm-up, then linear decay over 8
-- epochs, or until training accuracy reaches 92%); phase 2 refines 4 workers independently with small
-- batches, each with its own data order and flips; phase 3 averages them and recomputes the batch-norm
-- statistics. See docs/config.md for every setting and its default.
return {
  name = "fmnist-swap", dataset = "fashion-mnist", model = "cnn", seed = 1,
  augment = { flip = true },
  phase1 = { ranks = 2, batch = 2048, lr = 0.8, warmup = 0.15, max_epochs = 8, stop_train_acc = 0.92 },
  phase2 = { workers = 4, batch = 128, epochs = 3, lr = 0.15, schedule = "linear" },
  phase3 = { bn_batches = 100 },
}
