-- lua/swap/config.lua: defaults, overrides, errors (file:line, did-you-mean, type/range), sweeps, round trips.
local src = os.getenv("SWAP_SOURCE_DIR") or "."
package.path = src .. "/lua/?.lua;" .. package.path
local config = require "swap.config"

local T = dofile(src .. "/tests/lua/testlib.lua").new("test_config.lua")
local check = T.check

local tmp = T.tmpdir("test_config_lua")
local function write(name, text)
  local path = tmp .. "/" .. name
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end
-- Returns the error message (or nil if resolve succeeded).
local function err_of(path, ov)
  local ok, e = pcall(config.resolve, path, ov or {})
  if ok then return nil end
  return e
end
local function expect_err(label, path, ov, ...)
  local e = err_of(path, ov)
  check(e ~= nil, label .. ": expected an error")
  if not e then return end
  check(not e:find("\n"), label .. ": error should be one line: " .. e)
  for _, want in ipairs({ ... }) do
    check(e:find(want, 1, true) ~= nil, label .. ": error lacks '" .. want .. "': " .. e)
  end
end

-- The shipped example resolves, with defaults filled.
local flat = config.resolve(src .. "/lua/experiments/fmnist.lua", {})
check(flat.name == "fmnist-swap", "example name")
check(flat["phase1.batch"] == 2048 and math.type(flat["phase1.batch"]) == "integer", "phase1.batch is integer 2048")
check(flat["phase1.ranks"] == 2, "phase1.ranks")
check(flat["optim.momentum"] == 0.9, "default momentum")
check(flat["phase2.mode"] == "independent", "default mode")
check(flat["phase3.min_workers"] == 0, "default min_workers")
check(flat["data_dir"] == nil, "data_dir unset")
check(flat["phase1.warmup"] == 0.15 and math.type(flat["phase1.warmup"]) == "float", "number keys are floats")
local minimal = config.resolve(write("minimal.lua", "return { name = 'm' }\n"))
for _, e in ipairs(config.schema) do
  if e.type ~= "sweep" and e.type ~= "baselines" and e.type ~= "knots" and not e.required then
    check(minimal[e.key] == e.default or (e.type == "number" and minimal[e.key] == e.default + 0.0),
      "default filled: " .. e.key)
  end
end
check(minimal["augment.flip"] == false and minimal.width == 64 and minimal["phase2.workers"] == 4, "defaults")
check(math.type(minimal["phase1.lr"]) == "float" and math.type(minimal["phase1.batch"]) == "integer", "number vs int")
-- every schema key except unset optionals is present
for _, e in ipairs(config.schema) do
  check(flat[e.key] ~= nil or e.optional, "key present: " .. e.key)
  check(type(e.doc) == "string" and #e.doc > 10, "documented: " .. e.key)
  if e.default ~= nil and e.type ~= "sweep" and e.type ~= "baselines" and e.type ~= "knots" then
    local v, err = config.validate_value(e, e.default)
    check(err == nil, "default of " .. e.key .. " is valid: " .. tostring(err))
  end
end

-- Overrides: typed by the schema.
flat = config.resolve(src .. "/lua/experiments/fmnist.lua", {
  "phase1.batch=4096", "augment.flip=true", "name=fmnist/phase1.batch=4096", "phase2.lr=5e-3", "phase1.knots={{0,0},{5,1}}",
  "dataset=mnist", "data_dir=/d", "width=32", "phase1.stop_train_acc=1", "profile=\"my site\"" })
check(flat["phase1.batch"] == 4096, "override int")
check(flat["augment.flip"] == true, "override bool")
check(flat.name == "fmnist/phase1.batch=4096", "override string with '='")
check(flat["phase2.lr"] == 5e-3, "override float")
check(#flat["phase1.knots"] == 2 and flat["phase1.knots"][2][1] == 5, "override list")
check(flat.dataset == "mnist" and flat.data_dir == "/d" and flat.width == 32, "override strings")
check(flat.profile == "my site", "quoted string override")
flat = config.resolve(src .. "/lua/experiments/fmnist.lua", { "data_dir=/x", "data_dir=nil" })
check(flat.data_dir == nil, "later override wins; nil unsets an optional key")

-- format: sorted lines, round-trips through overrides.
local text = config.format(config.resolve(src .. "/lua/experiments/fmnist.lua", { "phase1.lr=0.1", "phase2.lr=0.3" }))
local prev = ""
for line in text:gmatch("[^\n]+") do
  local k = line:match("^(%S+) = ")
  check(k and k >= prev, "format sorted: " .. line)
  prev = k or prev
end
check(text:find("phase2.lr = 0.3\n", 1, true), "format shows exact floats")
for _, x in ipairs({ 0.1, 1 / 3, 5e-4, 1e-300, 123456.789, 2.0 }) do
  check(tonumber(config.show(x)) == x, "show round-trips " .. tostring(x))
end

-- Errors.
expect_err("syntax", write("syntax.lua", "return {\n name = 'x',\n phase1 = { batch = 512 \n}\n"), nil, "syntax.lua:")
expect_err("syntax line", write("syntax2.lua", "return {\n  name = 'x'\n  model = 'cnn',\n}\n"), nil, "syntax2.lua:3:")
expect_err("typo", write("typo.lua", "return {\n name = 'x',\n phase1 = {\n  ranks = 1,\n  bach = 512 } }\n"), nil,
  "typo.lua:5: unknown key 'phase1.bach'", "(did you mean 'phase1.batch'?)")
expect_err("top typo", write("typo2.lua", "return { name = 'x', modle = 'mlp' }\n"), nil,
  "typo2.lua:1: unknown key 'modle'", "did you mean 'model'?")
expect_err("nested typo", write("typo3.lua", "return { name = 'x', phase2 = { wash = { pp = 1 } } }\n"), nil,
  "unknown key 'phase2.wash.pp'", "did you mean 'phase2.wash.p'?")
expect_err("group typo", write("typo4.lua", "return { name = 'x', phase4 = { } }\n"), nil,
  "unknown key 'phase4'", "did you mean 'phase1'?")
expect_err("wrong type", write("type.lua", "return { name = 'x',\n phase2 = { workers = 'four' } }\n"), nil,
  "type.lua:2: 'phase2.workers': expected an integer", "got string")
expect_err("float for int", write("type2.lua", "return { name = 'x', phase1 = { batch = 512.5 } }\n"), nil,
  "'phase1.batch': expected an integer")
expect_err("bool type", write("type3.lua", "return { name = 'x', augment = { flip = 1 } }\n"), nil,
  "'augment.flip': expected a boolean")
expect_err("group not table", write("type4.lua", "return { name = 'x', phase1 = 3 }\n"), nil,
  "'phase1' must be a table")
expect_err("range", write("range.lua", "return { name = 'x',\n\n phase1 = { stop_train_acc = 0 } }\n"), nil,
  "range.lua:3: 'phase1.stop_train_acc': expected a number in (0, 1], got 0")
expect_err("range2", write("range2.lua", "return { name = 'x', optim = { momentum = 1 } }\n"), nil,
  "'optim.momentum': expected a number in [0, 1), got 1")
expect_err("choice", write("choice.lua", "return { name = 'x', model = 'vgg' }\n"), nil,
  "'model': unknown preset \"vgg\" (did you mean 'vgg11'?)")
expect_err("uneven", write("uneven.lua", "return { name = 'x', phase1 = { ranks = 3, batch = 512 } }\n"), nil,
  "phase1.batch (512) must be divisible by phase1.ranks (3)")
expect_err("uneven2", write("uneven2.lua", "return { name = 'x', phase2 = { ranks_per_worker = 2, batch = 5 } }\n"), nil,
  "phase2.batch (5) must be divisible by phase2.ranks_per_worker (2)")
expect_err("wash groups", write("washk.lua", "return { name = 'x', phase2 = { mode = 'wash', ranks_per_worker = 2 } }\n"), nil,
  "phase2.mode \"wash\" runs one member per rank: phase2.ranks_per_worker must be 1")
expect_err("renamed", write("renamed.lua", "return { name = 'x', phase2 = { ranks = 2 } }\n"), nil,
  "unknown key 'phase2.ranks' (renamed to 'phase2.ranks_per_worker')")
expect_err("min_workers", write("minw.lua", "return { name = 'x', phase2 = { workers = 2 }, phase3 = { min_workers = 3 } }\n"),
  nil, "phase3.min_workers (3) must not exceed phase2.workers (2)")
expect_err("greedy needs a split", write("greedy.lua", "return { name = 'x',\n phase3 = { soup = 'greedy' } }\n"), nil,
  "greedy.lua:2:", "data.val_split")
check(err_of(write("greedy2.lua", "return { name = 'x', data = { val_split = 10 }, phase3 = { soup = 'greedy' } }\n")) == nil,
  "greedy with a validation split resolves")
-- precision: fp32 by default, bf16 accepted for models with convolutions, refused for mlp (nothing would run bf16)
check(config.resolve(write("prec.lua", "return { name = 'x' }\n"))["precision"] == "fp32", "precision defaults to fp32")
check(err_of(write("prec2.lua", "return { name = 'x', precision = 'bf16' }\n")) == nil, "precision bf16 resolves for cnn")
expect_err("precision bf16 with mlp", write("prec3.lua", "return { name = 'x', model = 'mlp',\n precision = 'bf16' }\n"),
  nil, "prec3.lua:2:", "mlp")
expect_err("precision fp16", write("prec4.lua", "return { name = 'x', precision = 'fp16' }\n"), nil, "precision")
expect_err("knots needed", write("knots.lua", "return { name = 'x', phase1 = { schedule = 'knots' } }\n"), nil,
  "needs phase1.knots")
expect_err("bad knot", write("knots2.lua", "return { name = 'x', phase1 = { knots = {{0, 1}, {5}} } }\n"), nil,
  "knot 2")
expect_err("step needs step_every", write("step.lua", "return { name = 'x', phase1 = { schedule = 'step' } }\n"), nil,
  "phase1.step_every > 0")
expect_err("not a table", write("ret.lua", "return 42\n"), nil, "must return a table")
expect_err("missing", tmp .. "/nope.lua", nil, "nope.lua: cannot open")
for _, bad in ipairs({ "../x", "/abs", "a b", "x$(id)", "x`id`", "a'b", "a\nb", "a//b", "", "x/" }) do
  expect_err("name " .. string.format("%q", bad), write("n.lua", "return { name = " .. string.format("%q", bad) .. " }\n"),
    nil, "'name'")
end
for _, good in ipairs({ "fmnist", "a/phase1.batch=1024", "x-y_z.1+2,3" }) do
  check(err_of(write("n.lua", "return { name = " .. string.format("%q", good) .. " }\n")) == nil, "name ok: " .. good)
end
local base = write("base.lua", "return { name = 'x' }\n")
expect_err("override typo", base, { "phase1.bacth=4" }, "--set 'phase1.bacth=4': unknown key", "phase1.batch")
expect_err("override form", base, { "phase1.batch" }, "--set 'phase1.batch': expected key=value")
expect_err("override type", base, { "phase1.batch=big" }, "--set 'phase1.batch=big': 'phase1.batch': expected an integer")
expect_err("override list", base, { "phase1.knots={{0,1}" }, "--set 'phase1.knots={{0,1}': cannot parse value")
expect_err("override cross", base, { "phase1.ranks=3" }, "phase1.batch (512) must be divisible by phase1.ranks (3)")

-- Sweeps: keys and values validated against the schema.
flat = config.resolve(write("sw.lua", "return { name = 'x', sweep = { ['phase1.batch'] = {512, 1024}, ['augment.flip'] = {true, false} } }\n"))
check(#flat.sweep["phase1.batch"] == 2 and flat.sweep["augment.flip"][2] == false, "sweep kept")
expect_err("sweep typo", write("sw2.lua", "return { name = 'x',\n sweep = {\n ['phase1.bacth'] = {1} } }\n"), nil,
  "sw2.lua:3:", "unknown key 'phase1.bacth'", "did you mean 'phase1.batch'?")
expect_err("sweep value", write("sw3.lua", "return { name = 'x', sweep = { ['phase1.batch'] = {512, 'big'} } }\n"), nil,
  "sweep 'phase1.batch' value 2: expected an integer")
expect_err("sweep range", write("sw4.lua", "return { name = 'x', sweep = { ['phase1.lr'] = {0.1, -1} } }\n"), nil,
  "sweep 'phase1.lr' value 2")
expect_err("sweep empty", write("sw5.lua", "return { name = 'x', sweep = { ['phase1.lr'] = {} } }\n"), nil,
  "non-empty list")
expect_err("sweep name", write("sw6.lua", "return { name = 'x', sweep = { name = {'a', 'b'} } }\n"), nil,
  "cannot be swept")

-- Baselines: defaults inherited from phase 1, lr by phase 1's scaling rule, overrides, errors.
local bfile = write("bl.lua", [[
return { name = 'b', phase1 = { batch = 512, lr = 0.4, warmup = 0.1, max_epochs = 7, schedule = "cosine" },
  baselines = {
    small = { batch = 128, epochs = 3 },
    large = { batch = 1024, lr = 1.0, base_batch = 256, ranks = 2, warmup = 0.3, stop_train_acc = 0.9 },
  } }
]])
local bf = config.resolve(bfile, {})
check(table.concat(config.baseline_names(bf), ",") == "large,small", "baseline names sorted")
local sm, lg = bf.baselines.small, bf.baselines.large
check(sm.epochs == 3 and sm.warmup == 0.1 and sm.schedule == "cosine" and sm.ranks == 1, "small inherits phase 1")
check(sm.lr == 0.4 and sm.base_batch == 512 and config.baseline_lr(sm) == 0.1, "small: phase1.lr scaled by 128/512")
check(sm.stop_train_acc == 0, "no stop threshold unless asked")
check(lg.epochs == 7 and lg.warmup == 0.3 and lg.stop_train_acc == 0.9 and config.baseline_lr(lg) == 4.0,
  "large: own lr at its base_batch, inherited epochs")
check(bf["baselines.small.batch"] == 128 and bf["baselines.large.ranks"] == 2, "dotted keys for the executables")
check(config.resolve(bfile, { "baselines={}" }).baselines.small == nil, "--set baselines={} drops them")
local ov = config.resolve(bfile, { "baselines.small.epochs=5", "baselines.tiny={batch=64}" })
check(ov.baselines.small.epochs == 5 and ov.baselines.tiny.batch == 64, "baseline overrides")
check(bf.baselines.small.epochs == 3, "overrides do not leak into the experiment's table")
expect_err("baseline typo", bfile, { "baselines.small.epoch=5" }, "--set 'baselines.small.epoch=5'", "did you mean 'epochs'")
expect_err("baseline no batch", write("bl2.lua", "return { name = 'x', baselines = { s = { epochs = 2 } } }\n"), nil,
  "bl2.lua:1:", "baseline 's'", "missing 'batch'")
expect_err("baseline bad value", write("bl3.lua", "return { name = 'x',\n baselines = { s = { batch = 0 } } }\n"), nil,
  "bl3.lua:2:", "baselines.s.batch")
expect_err("baseline ranks", bfile, { "baselines.large.batch=1023" }, "divisible by ranks")
expect_err("baseline name", write("bl4.lua", "return { name = 'x', baselines = { ['a b'] = { batch = 8 } } }\n"), nil,
  "baseline names")
expect_err("baseline not a table", write("bl5.lua", "return { name = 'x', baselines = { s = 128 } }\n"), nil,
  "baseline 's'", "expected a table")
check(config.format(bf):find("baselines = {", 1, true) ~= nil, "resolved text records the baselines")

-- The CIFAR experiments: DAWNBench augmentation, label smoothing, both baselines.
for _, ds in ipairs({ "cifar10", "cifar100" }) do
  local c = config.resolve(src .. "/lua/experiments/" .. ds .. ".lua", {})
  check(c.dataset == ds and c.model == "resnet9" and c["augment.crop_pad"] == 4 and c["augment.flip"] and
    c["augment.cutout"] == 8 and c.label_smoothing > 0, ds .. ": resnet9 with the DAWNBench augmentation")
  check(c.baselines.small and c.baselines.large and c.baselines.small.batch < c.baselines.large.batch and
    c.baselines.small.stop_train_acc == 0, ds .. ": small and large baselines, no stop threshold")
  check(c["phase1.batch"] == c.baselines.large.batch and c["phase2.batch"] == c.baselines.small.batch,
    ds .. ": baselines train at SWAP's two batch sizes")
end

-- docs/config.md is generated from the schema and up to date.
local f = io.open(src .. "/docs/config.md")
check(f ~= nil, "docs/config.md exists")
if f then
  check(f:read("a") == config.markdown(), "docs/config.md is stale: regenerate with `lua5.4 lua/swap/config.lua --markdown > docs/config.md`")
  f:close()
end

-- import: an experiment built from a sibling file (cifar100.lua from cifar10.lua); errors name the file.
do
  local c100 = config.resolve(src .. "/lua/experiments/cifar100.lua", {})
  local c10 = config.resolve(src .. "/lua/experiments/cifar10.lua", {})
  check(c100.dataset == "cifar100" and c100.name == "cifar100-swap", "cifar100 sets its own dataset and name")
  check(c100.width == c10.width and c100["phase2.epochs"] == c10["phase2.epochs"] and
        c100["augment.cutout"] == 8 and c100["baselines.small.batch"] == c10["baselines.small.batch"],
        "cifar100 inherits the cifar10 recipe")
  -- cifar10-paper.lua writes its network out in the network language: it must be the resnet9 preset at width
  -- 32, layer for layer and tensor name for tensor name, with 20 epochs in bf16 on cifar10.lua's recipe
  local paper = config.resolve(src .. "/lua/experiments/cifar10-paper.lua", {})
  local c10w32 = config.resolve(src .. "/lua/experiments/cifar10.lua", { "width=32" })
  check(type(paper.model) == "table" and paper.model_json == c10w32.model_json,
        "cifar10-paper's written-out network is the resnet9 preset at width 32")
  check(paper.precision == "bf16" and paper["phase1.max_epochs"] == 20 and paper["baselines.small.epochs"] == 20 and
        paper["phase2.epochs"] == c10["phase2.epochs"] and paper.label_smoothing == c10.label_smoothing and
        paper["phase2.lr"] == 0.03 and c10["phase2.lr"] == 0.1,
        "cifar10-paper: 20 epochs in bf16 on cifar10's recipe, phase 2 peaking at lr 0.03 (chosen on validation)")
  local p100 = config.resolve(src .. "/lua/experiments/cifar100-paper.lua", {})
  local c100w32 = config.resolve(src .. "/lua/experiments/cifar100.lua", { "width=32" })
  check(p100.model_json == c100w32.model_json and p100.dataset == "cifar100" and p100.tta == "flip",
        "cifar100-paper: the same written-out network with a 100-way classifier (the preset's on cifar100)")
  check(p100["phase2.wash.p"] == 0.01 and p100["phase2.wash.layer_decay"] == true and
        p100["phase2.wash.scale_by_w"] == false and p100["phase2.papa.alpha"] == 0.99 and p100["phase2.papa.every"] == 10,
        "cifar100-paper: WASH and PAPA at their papers' defaults")
  check(p100["phase2.lr"] == 0.03, "cifar100-paper: phase 2 peaks at lr 0.03 (chosen on CIFAR-100's validation split)")
  write("base.lua", 'return { name = "base", phase1 = { batch = 64 } }')
  local child = write("child.lua", 'local e = import("base.lua"); e.name = "child"; local f = import("base.lua"); ' ..
                                   'f.name = "other"; return e')
  local t, _, imports = config.load_file(child)
  check(t.name == "child" and t.phase1.batch == 64, "import returns the sibling's table")
  check(#imports == 2 and imports[1]:match("/base%.lua$"), "imported files are reported (for the Slurm snapshot)")
  expect_err("import of a path", write("bad.lua", 'return import("../base.lua")'), {}, "bad.lua: import", "same directory")
  write("loop_a.lua", 'return import("loop_b.lua")')
  expect_err("import cycle", write("loop_b.lua", 'return import("loop_a.lua")'), {}, "imports itself")
  expect_err("import of a missing file", write("miss.lua", 'return import("nope.lua")'), {}, "nope.lua", "cannot open")
end

os.execute("rm -rf '" .. tmp .. "'")
T.finish()
