-- SWAP on CIFAR-100: the CIFAR-10 recipe (cifar10.lua: `resnet9`, the DAWNBench augmentation, label smoothing,
-- the small- and large-batch baselines) on the 100-class dataset. Change any knob here or with --set.
--
-- Data: `datasets/get-cifar.sh cifar100` puts the binary CIFAR-100 files in datasets/cifar-100-binary (the
-- default below); elsewhere pass --set data_dir=DIR.
--
--   bin/swap-run lua/experiments/cifar100.lua                     # SWAP, then both baselines
--   bin/swap-slurm submit lua/experiments/cifar100.lua            # baselines as their own jobs, beside the chain
local e = import("cifar10.lua")
e.name, e.dataset = "cifar100-swap", "cifar100"
return e
