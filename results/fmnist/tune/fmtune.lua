-- Validation-split tuning of the demo recipe's phase 2 (made these files; to rerun, copy it to lua/experiments/ and run
-- bin/swap-run lua/experiments/fmtune.lua). Choices read val_acc only; test_acc is printed but not used.
local e = import("fmnist.lua")
e.name = "fmtune"
e.data = { val_split = 10000 }
e.baselines.small.epochs = 8
e.sweep = { { ["phase2.workers"] = { 2, 2, 4 }, ["phase2.epochs"] = { 3, 5, 3 } } }
return e
