-- SWAP on CIFAR-10 toward the paper's scale: cifar10.lua's recipe (DAWNBench augmentation, label smoothing 0.2,
-- SGD with Nesterov momentum, the small- and large-batch baselines) with ResNet-9 at width 32 for 20 epochs, in
-- bf16. The network is written out below in the network language (docs/networks.md); it is the `resnet9` preset
-- at width 32, layer for layer and tensor name for tensor name, so a reader sees the whole model here.
--
-- How it was chosen: the small-batch baseline alone, on a 5,000-image validation split, over width x epochs
-- (results/cifar10-search/README.md: the frontier and the budget arithmetic). 20 epochs at width 32 was the best
-- point whose whole comparison fits 75 minutes on a 2-core machine; it reached 92.50 % on validation, and 93.12 %
-- with test-time flip (`tta = "flip"`: each image and its mirror image, softmax outputs averaged), which every
-- model of the comparison is then evaluated with. Phase 2 keeps cifar10.lua's 4 workers x 3 epochs but peaks at lr
-- 0.03, not 0.1: on the same validation split (results/cifar10-paper/tune) SWAP's average reached 92.76, 93.22 and
-- 92.92 % at 0.1, 0.03 and 0.01 from one 20-epoch phase 1 at 92.78 %; 0.1 knocks a converged model too far.
--
--   bin/swap-run lua/experiments/cifar10-paper.lua --set baselines.large=nil --set seed=1
--
-- `baselines.large=nil`: phase 1 runs its whole schedule, so it is the large-batch baseline (cifar10.lua says
-- why); the flag trains that model once instead of twice.
local e = import("cifar10.lua")
e.name, e.precision, e.tta = "cifar10-paper", "bf16", "flip"
local epochs = 20
e.phase1.max_epochs, e.baselines.small.epochs, e.baselines.large.epochs = epochs, epochs, epochs
e.phase2.lr = 0.03

local w = 32
e.width = w  -- recorded with the run; the written-out network below does not scale with it
-- conv 3x3 (no bias) -> BN -> ReLU, its tensors named <p>.conv and <p>.bn
local function cbr(p, out)
  return { { "conv", name = p .. ".conv", out = out, k = 3, pad = 1, bias = false },
           { "bn", name = p .. ".bn" }, { "relu", name = p .. ".relu" } }
end
-- two cbr blocks added to their input
local function res(p, c)
  return { "residual", name = p .. ".add", body = { cbr(p .. ".res1", c), cbr(p .. ".res2", c) } }
end
e.model = { name = "resnet9", layers = {
  cbr("prep", w),                                                                         -- 32 x 32x32
  cbr("layer1", 2 * w), { "maxpool", name = "layer1.pool", k = 2 }, res("layer1", 2 * w), -- 64 x 16x16
  cbr("layer2", 4 * w), { "maxpool", name = "layer2.pool", k = 2 },                       -- 128 x 8x8
  cbr("layer3", 8 * w), { "maxpool", name = "layer3.pool", k = 2 }, res("layer3", 8 * w), -- 256 x 4x4
  { "global_maxpool", name = "gmp" },                                                     -- 256
  { "linear", name = "fc", out = 10, bias = false },
  { "scale", name = "scale", by = 0.125 },                                                -- DAWNBench's logit scale
} }
return e
