-- SWAP on CIFAR-100: the CIFAR-10 recipe (cifar10.lua: `resnet9`, the DAWNBench augmentation, label smoothing,
-- the small- and large-batch baselines) on the 100-class dataset. Change any knob here or with --set.
--
-- Data: `datasets/get-cifar.sh cifar100` puts the binary CIFAR-100 files in datasets/cifar-100-binary (the
-- default below); elsewhere pass --set data_dir=DIR.
--
-- Or from an HDF5 dataset file (docs/data.md). The public per-class copy of CIFAR-100 in the GitHub repository
-- Taragon123/Taragon123.github.io (cifar-100-binary/, pixels only, labels from file names and
-- coarse_to_fine_mapping.json) reassembled into <coarse><fine><pixels> records, class by class, and converted
-- with `python3 python/swap_data.py cifar DIR -o cifar100.h5` gives content hash cf032de1c60c81a08f90ef86bb31a60e
-- (its image order differs from the official files, so the official MD5s cannot match; the statistics do:
-- mean 129.30 124.07 112.43):
--   bin/swap-run lua/experiments/cifar100.lua --set dataset=hdf5 --set data_file=/work/data/cifar100.h5 --set name=cifar100-h5
--
--   bin/swap-run lua/experiments/cifar100.lua                     # SWAP, then both baselines
--   bin/swap-slurm submit lua/experiments/cifar100.lua            # baselines as their own jobs, beside the chain
local e = import("cifar10.lua")
e.name, e.dataset = "cifar100-swap", "cifar100"
return e
