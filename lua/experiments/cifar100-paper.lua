-- SWAP, WASH and PAPA on CIFAR-100 at equal compute, beside the small- and large-batch baselines: the
-- paper-scale CIFAR-10 recipe (cifar10-paper.lua: ResNet-9 width 32 written out, 20 epochs, bf16, test-time
-- flip) with a 100-way classifier. One phase 1 (= the large-batch baseline) is shared by three phase 2s of the
-- same cost (4 members x 3 epochs at batch 128 from peak lr 0.03): independent workers (SWAP), WASH and PAPA with
-- their papers' defaults. WASH draws each parameter into a random permutation of the members with probability
-- p = 0.01, scaled down layer by layer (layer_decay); the paper's p counts draws, and a permutation leaves an entry
-- where it was with probability 1/W, so scale_by_w (our default, p = the rate entries actually move) is off here to
-- match it.
-- PAPA pulls every member toward the population mean with alpha = 0.99 every 10 steps.
--
-- Data: `datasets/get-cifar.sh cifar100`, or an HDF5 file (cifar100.lua says how the evidence's copy was made):
--   bin/swap-run lua/experiments/cifar100-paper.lua --set baselines.large=nil --set seed=1 \
--     --set dataset=hdf5 --set data_file=cifar100.h5
local e = import("cifar10-paper.lua")
e.name, e.dataset = "cifar100-paper", "cifar100"
local layers = e.model.layers
for i = #layers, 1, -1 do
  if layers[i][1] == "linear" then layers[i].out = 100 break end
end
-- Phase 2's peak lr, chosen on a 5,000-image CIFAR-100 validation split (results/cifar100-paper/tune): SWAP's
-- average reached 71.54, 72.64 and 72.18 % at 0.1, 0.03 and 0.01 from one phase 1 at 71.92 %, as on CIFAR-10.
e.phase2.lr = 0.03
e.phase2.wash = { p = 0.01, layer_decay = true, scale_by_w = false }
e.phase2.papa = { alpha = 0.99, every = 10 }
e.sweep = { ["phase2.mode"] = { "independent", "wash", "papa" } }
return e
