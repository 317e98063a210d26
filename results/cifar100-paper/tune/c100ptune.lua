-- Validation-split tuning of cifar100-paper.lua's phase 2, as c10ptune.lua did for CIFAR-10 (there lr 0.03 won).
-- To rerun, copy it to lua/experiments/ and run
--   bin/swap-run lua/experiments/c100ptune.lua --set dataset=hdf5 --set data_file=cifar100.h5
-- One phase 1 on 45,000 images (5,000 held out), then 4 independent workers x 3 epochs at three peak learning
-- rates, each averaged with BN recomputed. Choices read val_acc only; test_acc is printed but not used.
local e = import("cifar100-paper.lua")
e.name = "c100ptune"
e.data = { val_split = 5000 }
e.baselines = nil
e.sweep = { ["phase2.lr"] = { 0.1, 0.03, 0.01 } }
return e
