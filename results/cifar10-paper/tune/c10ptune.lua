-- Validation-split tuning of cifar10-paper.lua's phase 2 (seed 1 of the recipe as first chosen, with phase 2
-- carried over from the width-16 recipe, put SWAP's average 0.27 points below its own phase 1). To rerun, copy
-- it to lua/experiments/ and run bin/swap-run lua/experiments/c10ptune.lua --set data_dir=...
-- One phase 1 on 45,000 images (5,000 held out), then the same 4 workers x 3 epochs at three peak learning
-- rates. Choices read val_acc only; test_acc is printed but not used.
local e = import("cifar10-paper.lua")
e.name = "c10ptune"
e.data = { val_split = 5000 }
e.baselines = nil
e.sweep = { ["phase2.lr"] = { 0.1, 0.03, 0.01 } }
return e
