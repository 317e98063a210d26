-- Fashion-MNIST SWAP demo: a short large-batch phase 1 on 2 ranks, 4 refine workers, then averaging.
return {
  name = "fmnist-swap", dataset = "fashion-mnist", model = "cnn", seed = 1,
  phase1 = { ranks = 2, batch = 2048, lr = 0.8, warmup = 0.15, max_epochs = 10, stop_train_acc = 0.90 },
  phase2 = { workers = 4, batch = 128, epochs = 2, lr = 0.05, schedule = "linear" },
  phase3 = { bn_batches = 100 },
}
