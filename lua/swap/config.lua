-- Experiment configuration: the schema (every key with type, default, range and a one-line doc), loading an
-- experiment file, "--set key=value" overrides, and validation. Shared by the C executables (embedded Lua)
-- and the Slurm generator, so both agree on what an experiment means.
--
--   local config = require "swap.config"
--   local flat = config.resolve("lua/experiments/fmnist.lua", {"phase1.batch=4096"})
--   flat["phase1.batch"] --> 4096
--
-- Errors are raised as one-line strings (error level 0): "<file>:<line>: <what is wrong>" when the line can be
-- found, "<file>: ..." otherwise, "--set '<override>': ..." for a bad override.
local M = {}
-- swap.models sits beside this file (also when this file runs as a script: --markdown)
local here = debug.getinfo(1, "S").source:match("^@(.-)swap/config%.lua$")
if here and not package.path:find(here .. "?.lua", 1, true) then package.path = (here == "" and "./" or here) .. "?.lua;" .. package.path end
local models = require "swap.models"

local SCHEDULES = { "constant", "linear", "cosine", "knots", "step" }

-- Entry fields: key, type ("string"|"int"|"number"|"boolean"|"knots"|"sweep"), default, doc,
-- choices (strings), min/max (inclusive), gt/lt (exclusive), optional (nil allowed), required, check(v) -> err.
local function name_check(v)
  if v == "" then return "must not be empty" end
  local bad = v:match("[^A-Za-z0-9._+=,/%-]")
  if bad then return string.format("contains %q; allowed characters are A-Z a-z 0-9 . _ + = , / -", bad) end
  if v:find("..", 1, true) then return "must not contain '..'" end
  if v:sub(1, 1) == "/" then return "must not start with '/'" end
  if v:sub(-1) == "/" or v:find("//", 1, true) then return "must not have empty path components" end
  return nil
end

M.schema = {
  -- top level
  { key = "name", type = "string", required = true, check = name_check,
    doc = "Experiment name; results go to <results>/<name>/. Characters [A-Za-z0-9._+=,/-], no '..', no leading '/'." },
  { key = "dataset", type = "string", default = "fashion-mnist", choices = { "fashion-mnist", "mnist", "cifar10", "cifar100", "hdf5" },
    doc = "Dataset to train and evaluate on; \"hdf5\" = your own images in the HDF5 file `data_file` (docs/data.md)." },
  { key = "data_dir", type = "string", optional = true,
    doc = "Directory holding the dataset files (unset = the dataset's default location)." },
  { key = "data_file", type = "string", optional = true,
    doc = "dataset = \"hdf5\": the HDF5 dataset file (/train/images uint8 [N][H][W][C], /train/labels, /test/...; docs/data.md), relative to the working directory unless absolute." },
  { key = "data.in_memory", type = "boolean", optional = true,
    doc = "dataset = \"hdf5\": hold the training images in memory (true) or stream them from the file in chunks (false); unset = stream when the file is larger than data.stream_above_mb." },
  { key = "data.stream_above_mb", type = "int", default = 4096, min = 0,
    doc = "With data.in_memory unset: stream the training images of a data_file larger than this many MiB." },
  { key = "data.stream_chunk", type = "int", default = 256, min = 1, max = 1048576,
    doc = "Streaming: consecutive training images read (and shuffled) as one chunk." },
  { key = "data.stream_window", type = "int", default = 16, min = 1, max = 65536,
    doc = "Streaming: chunks per shuffle window; a rank holds two windows (2 x window x chunk images) in memory." },
  { key = "model", type = "model", default = "cnn",
    doc = "Network: a preset name (mlp, cnn, resnet9, resnet18, resnet20, vgg11) or a table { name = ..., layers = " ..
      "{ ... } } in the network language (docs/networks.md)." },
  { key = "width", type = "int", default = 64, min = 1, max = 4096,
    doc = "Channel width the presets scale with (64 = the published networks; mlp and cnn ignore it)." },
  { key = "precision", type = "string", default = "fp32", choices = { "fp32", "bf16" },
    doc = "Arithmetic of the convolutions: \"bf16\" multiplies bf16-rounded inputs, weights and output gradients " ..
      "with fp32 accumulation (needs AVX512_BF16); weights, optimizer, batch norm, loss and all-reduce stay fp32 " ..
      "either way. Recorded in checkpoints; see README \"Precision\"." },
  { key = "allow_precision_change", type = "boolean", default = false,
    doc = "Let a phase resume or continue from a checkpoint recorded in the other precision (refused otherwise)." },
  { key = "seed", type = "int", default = 1, min = 0, max = 2 ^ 53, doc = "Base random seed (workers derive theirs from it)." },
  { key = "threads", type = "int", default = 0, min = 0, max = 4096,
    doc = "Threads per process for phases that do not set their own (0 = all cores available)." },
  { key = "results", type = "string", default = "results",
    doc = "Results root, relative to the working (submit) directory unless absolute." },
  { key = "train_subset", type = "int", default = 0, min = 0, doc = "Use only the first N training examples (0 = all)." },
  { key = "test_subset", type = "int", default = 0, min = 0, doc = "Use only the first N test examples (0 = all)." },
  { key = "data.val_split", type = "int", default = 0, min = 0,
    doc = "Validation images carved out of the training set (same for every phase, never trained on; 0 = none)." },
  { key = "data.val_seed", type = "int", default = 0, min = 0, max = 2 ^ 53,
    doc = "Seed choosing the validation images (independent of `seed`, so runs with other seeds share the split)." },
  { key = "label_smoothing", type = "number", default = 0, min = 0, lt = 1, doc = "Label smoothing epsilon in [0, 1)." },
  { key = "tta", type = "string", default = "none", choices = { "none", "flip" },
    doc = "Test-time augmentation of every test and validation evaluation: \"flip\" averages the softmax outputs of " ..
          "each image and its mirror image (training is unchanged)." },
  { key = "augment.crop_pad", type = "int", default = 0, min = 0, max = 64,
    doc = "Random-crop padding in pixels (0 = no random crop)." },
  { key = "augment.flip", type = "boolean", default = false, doc = "Random horizontal flips." },
  { key = "augment.cutout", type = "int", default = 0, min = 0, max = 1024, doc = "Cutout square size in pixels (0 = off)." },
  { key = "profile", type = "string", default = "local",
    doc = "Slurm site profile: a name in slurm/ (slurm/<profile>.lua) or a path to a profile file." },
  { key = "sweep", type = "sweep", default = {},
    doc = "Sweep: table of dotted key -> list of values, and zipped groups ({ [\"phase1.batch\"] = {...}, " ..
      "[\"phase1.lr\"] = {...} } as list entries, varied together); the product becomes pipelines. Points that " ..
      "differ only in phase-2/phase-3 keys share one phase 1 (and the baselines)." },
  { key = "shared_dir", type = "string", optional = true,
    doc = "Directory holding the phase-1 model (phase1/) and baselines (baseline-*/) this pipeline shares with " ..
      "others, relative to the working directory unless absolute (unset = <results>/<name>). Sweeps over " ..
      "phase-2/phase-3 keys set it, so one phase 1 serves every point." },
  { key = "baselines", type = "baselines", default = {},
    doc = "Baselines: table of name -> settings (see \"Baselines\" below); each is one model trained from scratch " ..
      "by `swap-train --baseline <name>` into <results>/<name>/baseline-<name>/." },

  -- optimizer (all phases)
  { key = "optim.momentum", type = "number", default = 0.9, min = 0, lt = 1, doc = "SGD momentum in [0, 1)." },
  { key = "optim.nesterov", type = "boolean", default = true, doc = "Nesterov momentum." },
  { key = "optim.weight_decay", type = "number", default = 5e-4, min = 0, max = 1, doc = "L2 weight decay." },
  { key = "optim.decay_bn_bias", type = "boolean", default = false,
    doc = "Apply weight decay to batch-norm parameters and biases too." },
}

-- Trainer settings: phase 1, phase 2 and every baseline train a model with SGD, and share these, described once.
-- A section lists the ones it has (trainer_entries), with its own default and, where its meaning differs (a
-- phase-2 batch is per worker; a baseline inherits from phase 1), its own doc or bounds.
local TRAINER = {
  ranks = { type = "int", min = 1, max = 65536, doc = "MPI ranks (data-parallel replicas)." },
  threads = { type = "int", min = 0, max = 4096, doc = "Threads per rank (0 = top-level threads)." },
  batch = { type = "int", min = 1, doc = "Global batch size (split evenly over ranks)." },
  base_batch = { type = "int", min = 0, doc = "Batch the lr was tuned for: lr is scaled by batch/base_batch (0 = no scaling)." },
  lr = { type = "number", gt = 0, max = 1e4, doc = "Peak learning rate." },
  warmup = { type = "number", min = 0, max = 1, doc = "Fraction of the epoch budget spent in linear warm-up." },
  schedule = { type = "string", choices = SCHEDULES, doc = "Learning-rate schedule." },
  final_lr_frac = { type = "number", min = 0, max = 1, doc = "Final lr as a fraction of the peak (linear, cosine)." },
  knots = { type = "knots", doc = "Piecewise-linear schedule as {epoch, multiplier} pairs (schedule = \"knots\")." },
  step_every = { type = "number", min = 0, doc = "Epochs between lr steps (schedule = \"step\"; must then be > 0)." },
  gamma = { type = "number", gt = 0, max = 1, doc = "Step decay factor (schedule = \"step\")." },
  epochs = { type = "int", gt = 0, max = 1e6, doc = "Epoch budget." },
  stop_train_acc = { type = "number", max = 1, doc = "Stop once an epoch's training accuracy reaches this." },
  eval_every = { type = "int", min = 0, doc = "Epochs between test evaluations (0 = never)." },
  checkpoint_every = { type = "int", min = 0, doc = "Epochs between resumable checkpoints (0 = only at the end)." },
  keep_checkpoints = { type = "int", min = 1, max = 1000, doc = "Periodic checkpoints kept." },
}

-- Schema entries "<prefix>.<leaf>" (just "<leaf>" when prefix is nil) from items { leaf, field = value, ... }:
-- an item with a type is a setting of its own; otherwise TRAINER[like or leaf] with the item's fields over it.
local function trainer_entries(prefix, items)
  local out = {}
  for _, it in ipairs(items) do
    local e = {}
    if not it.type then
      for k, v in pairs(TRAINER[it.like or it[1]] or error("config: no trainer setting " .. (it.like or it[1]))) do e[k] = v end
    end
    for k, v in pairs(it) do if k ~= 1 and k ~= "like" then e[k] = v end end
    e.key = prefix and (prefix .. "." .. it[1]) or it[1]
    out[#out + 1] = e
  end
  return out
end

local function append(list, entries)
  for _, e in ipairs(entries) do list[#list + 1] = e end
end

-- phase 1: large-batch data-parallel SGD
append(M.schema, trainer_entries("phase1", {
  { "ranks", default = 1 }, { "threads", default = 0 }, { "batch", default = 512 }, { "base_batch", default = 0 },
  { "lr", default = 0.1 }, { "warmup", default = 0 }, { "schedule", default = "linear" },
  { "final_lr_frac", default = 0 }, { "knots", default = {} }, { "step_every", default = 0 }, { "gamma", default = 0.1 },
  { "max_epochs", like = "epochs", default = 10 },
  { "stop_train_acc", default = 1.0, gt = 0, doc = "Stop phase 1 once training accuracy reaches this, in (0, 1]." },
  { "checkpoint_every", default = 1 }, { "keep_checkpoints", default = 1 }, { "eval_every", default = 1 },
  { "bucket_mb", type = "number", default = 0, min = 0, max = 1024,
    doc = "Gradient all-reduce bucket (MiB), started as backward finishes it (0 = one all-reduce after backward)." },
}))

-- phase 2: small-batch refinement by W workers
append(M.schema, trainer_entries("phase2", {
  { "mode", type = "string", default = "independent", choices = { "independent", "wash", "papa" },
    doc = "independent = W separate jobs (SWAP); wash/papa = one W-rank MPI job that mixes weights." },
  { "workers", type = "int", default = 4, min = 1, max = 100000, doc = "Number of workers W." },
  { "parallel", type = "int", default = 0, min = 0, max = 100000,
    doc = "Workers running at once (Slurm array throttle %P; 0 = as many as resources allow)." },
  { "ranks_per_worker", like = "ranks", default = 1,
    doc = "k: each independent worker is a data-parallel group of k MPI ranks (its batch split over them, " ..
      "gradients summed inside the group only). wash/papa need 1." },
  { "threads", default = 0 },
  { "batch", default = 128, doc = "Batch size per worker (split over its ranks)." }, { "lr", default = 0.05 },
  { "warmup", default = 0 }, { "schedule", default = "linear", choices = { "constant", "linear", "cosine" } },
  { "final_lr_frac", default = 0 },
  { "epochs", default = 2, min = 0, gt = false, doc = "Epochs each worker trains." }, -- (0 allowed: no gt bound)
  { "reset_momentum", type = "boolean", default = true, doc = "Start phase 2 with zero momentum buffers." },
  { "eval_every", default = 1 }, { "checkpoint_every", default = 1 }, { "keep_checkpoints", default = 1 },
  { "wash.p", type = "number", default = 0.01, min = 0, max = 1,
    doc = "WASH: probability of shuffling each parameter per step." },
  { "wash.scale_by_w", type = "boolean", default = true,
    doc = "WASH: divide p by (1 - 1/W): a random permutation of W members leaves an entry where it was with " ..
      "probability 1/W, so p then is the rate at which entries actually move." },
  { "wash.layer_decay", type = "boolean", default = true,
    doc = "WASH: decay p linearly with layer position, p_l = p * (1 - l/(L-1)) for trainable tensor l of L in " ..
      "network order (p at the input, 0 at the output); false: p for every tensor." },
  { "wash.shuffle_momentum", type = "boolean", default = false, doc = "WASH: shuffle momentum buffers too." },
  { "wash.p_schedule", type = "string", default = "constant", choices = { "constant", "linear" },
    doc = "WASH: p constant or decayed linearly to 0." },
  { "papa.every", type = "int", default = 10, min = 1, doc = "PAPA: steps between pulls toward the average." },
  { "papa.alpha", type = "number", default = 0.99, min = 0, max = 1,
    doc = "PAPA: weights <- alpha*weights + (1-alpha)*average." },
  { "papa.lr_scaled", type = "boolean", default = false, doc = "PAPA: scale (1-alpha) by lr/peak lr." },
}))

-- phase 3: average, recompute batch-norm statistics, evaluate
append(M.schema, {
  { key = "phase3.bn_batches", type = "int", default = 100, min = 0, doc = "Batches used to recompute BN statistics." },
  { key = "phase3.bn_batch", type = "int", default = 0, min = 0, doc = "Batch size for BN recomputation (0 = phase2.batch)." },
  { key = "phase3.bn_augment", type = "boolean", default = true,
    doc = "Recompute BN statistics on training images augmented as in training (as update_bn with the training loader); false: plain images." },
  { key = "phase3.min_workers", type = "int", default = 0, min = 0,
    doc = "Average as soon as this many workers finished (0 = all workers required)." },
  { key = "phase3.soup", type = "string", default = "uniform", choices = { "uniform", "greedy" },
    doc = "uniform = average every worker; greedy = add workers best-first by validation accuracy, each only if the soup's validation accuracy (BN recomputed) does not drop (needs data.val_split)." },
  { key = "phase3.eval_batch", type = "int", default = 1000, min = 1, doc = "Batch size for evaluation." },
})

-- One baseline: a model trained from scratch like phase 1 (same data, augmentation, initialisation and data
-- seed), with its own batch and schedule. `inherit` names the phase-1 key a field copies when it is not given.
M.baseline_schema = trainer_entries(nil, {
  { "batch", required = true },
  { "epochs", inherit = "phase1.max_epochs" },
  { "lr", optional = true,
    doc = "Peak learning rate at base_batch. Unset: phase1.lr, scaled linearly from phase 1's batch " ..
      "(phase1.base_batch if set, else phase1.batch)." },
  { "base_batch", optional = true,
    doc = "Batch the lr was tuned for: lr is scaled by batch/base_batch, the rule phase 1 uses (0 = no scaling). " ..
      "Unset: phase1.base_batch (or, when lr is unset too, the batch phase1.lr belongs to)." },
  { "ranks", default = 1 }, { "threads", default = 0 },
  { "warmup", inherit = "phase1.warmup" }, { "schedule", inherit = "phase1.schedule" },
  { "final_lr_frac", inherit = "phase1.final_lr_frac" }, { "knots", inherit = "phase1.knots" },
  { "step_every", inherit = "phase1.step_every" }, { "gamma", inherit = "phase1.gamma" },
  { "stop_train_acc", default = 0, min = 0,
    doc = "Stop once an epoch's training accuracy reaches this (0 = never: the whole epoch budget runs)." },
  { "eval_every", inherit = "phase1.eval_every" }, { "checkpoint_every", inherit = "phase1.checkpoint_every" },
  { "keep_checkpoints", inherit = "phase1.keep_checkpoints" },
})
M.baseline_by_key = {}
for _, e in ipairs(M.baseline_schema) do M.baseline_by_key[e.key] = e end
M.BASELINE_NAME = "^[A-Za-z0-9_-]+$"

M.by_key = {}
M.groups = {} -- every dotted prefix of a key ("phase1", "phase2.wash", ...)
for _, e in ipairs(M.schema) do
  M.by_key[e.key] = e
  local prefix = ""
  for part in e.key:gmatch("([^.]+)%.") do
    prefix = prefix == "" and part or prefix .. "." .. part
    M.groups[prefix] = true
  end
end

-- Values ---------------------------------------------------------------------------------------------------

local function fmt_number(x)
  if math.type(x) == "integer" then return tostring(x) end
  if x ~= x then return "0/0" end
  if x == math.huge then return "math.huge" elseif x == -math.huge then return "-math.huge" end
  if x == math.floor(x) and math.abs(x) < 2 ^ 53 then return string.format("%.1f", x) end
  for prec = 15, 17 do -- shortest form that reads back exactly
    local s = string.format("%." .. prec .. "g", x)
    if tonumber(s) == x then return s end
  end
  return string.format("%.17g", x)
end

-- Lua-constructor text for a value; reads back via the override parser (and Lua itself).
function M.show(v)
  local t = type(v)
  if t == "nil" then return "nil" end
  if t == "number" then return fmt_number(v) end
  if t == "boolean" then return tostring(v) end
  if t == "string" then return (string.format("%q", v):gsub("\\\n", "\\n")) end
  if t == "table" then
    local parts = {}
    local n = #v
    for i = 1, n do parts[#parts + 1] = M.show(v[i]) end
    local keys = {}
    for k in pairs(v) do
      if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
    end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    for _, k in ipairs(keys) do parts[#parts + 1] = "[" .. M.show(k) .. "]=" .. M.show(v[k]) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  return tostring(v)
end

-- The text after "key=" in an override, as a plain string when the key holds strings.
function M.show_plain(v)
  if type(v) == "string" then return v end
  return M.show(v)
end

local function describe(e)
  if e.type == "string" and e.choices then return "one of " .. table.concat(e.choices, "|") end
  if e.type == "model" then return "a preset (" .. table.concat(models.preset_names, "|") .. ") or a network table" end
  local what = ({ string = "a string", int = "an integer", number = "a number", boolean = "a boolean (true|false)",
                  knots = "a list of {epoch, multiplier} pairs", sweep = "a table of key -> list of values",
                  baselines = "a table of name -> {batch = ..., ...}" })[e.type]
  local lo, hi
  if e.min then lo = "[" .. fmt_number(e.min) elseif e.gt then lo = "(" .. fmt_number(e.gt) end
  if e.max then hi = fmt_number(e.max) .. "]" elseif e.lt then hi = fmt_number(e.lt) .. ")" end
  if lo or hi then what = what .. " in " .. (lo or "(-inf") .. ", " .. (hi or "inf)") end
  if e.optional then what = what .. " or nil" end
  return what
end
M.describe = describe

local function check_range(e, x)
  if (e.min and x < e.min) or (e.max and x > e.max) or (e.gt and x <= e.gt) or (e.lt and x >= e.lt) or x ~= x then
    return "expected " .. describe(e) .. ", got " .. fmt_number(x)
  end
end

-- NaN (0/0) and infinities pass every range comparison unless refused first.
local function finite(x) return x == x and x ~= math.huge and x ~= -math.huge end

-- Returns the normalised value, or nil and an error text (without the key).
local function validate_value(e, v)
  if v == nil then
    if e.optional then return nil end
    return nil, "expected " .. describe(e) .. ", got nil"
  end
  local t = e.type
  if t == "string" then
    if type(v) ~= "string" then return nil, "expected " .. describe(e) .. ", got " .. type(v) .. " " .. M.show(v) end
    if e.choices then
      for _, c in ipairs(e.choices) do if c == v then return v end end
      return nil, "expected " .. describe(e) .. ", got " .. M.show(v)
    end
    if v:find("[%z\n\r]") then return nil, "must not contain newlines or NUL bytes" end
    if e.check then
      local err = e.check(v)
      if err then return nil, err .. " (got " .. M.show(v) .. ")" end
    end
    return v
  elseif t == "int" then
    if type(v) ~= "number" or math.tointeger(v) == nil then
      return nil, "expected " .. describe(e) .. ", got " .. type(v) .. " " .. M.show(v)
    end
    v = math.tointeger(v)
    local err = check_range(e, v)
    if err then return nil, err end
    return v
  elseif t == "number" then
    if type(v) ~= "number" then return nil, "expected " .. describe(e) .. ", got " .. type(v) .. " " .. M.show(v) end
    if not finite(v) then return nil, "expected a finite number, got " .. tostring(v) end
    local err = check_range(e, v)
    if err then return nil, err end
    return v + 0.0
  elseif t == "boolean" then
    if type(v) ~= "boolean" then return nil, "expected " .. describe(e) .. ", got " .. type(v) .. " " .. M.show(v) end
    return v
  elseif t == "knots" then
    if type(v) ~= "table" then return nil, "expected " .. describe(e) .. ", got " .. type(v) end
    local out, prev = {}, -math.huge
    for k in pairs(v) do
      if math.type(k) ~= "integer" or k < 1 or k > #v then return nil, "expected " .. describe(e) .. " (a list)" end
    end
    if #v > 32 then return nil, "at most 32 knots" end
    for i, p in ipairs(v) do
      if type(p) ~= "table" or #p ~= 2 or type(p[1]) ~= "number" or type(p[2]) ~= "number" then
        return nil, string.format("knot %d: expected {epoch, multiplier}, got %s", i, M.show(p))
      end
      if not finite(p[1]) or not finite(p[2]) then
        return nil, string.format("knot %d: epoch and multiplier must be finite numbers, got %s", i, M.show(p))
      end
      if p[1] < 0 or p[2] < 0 then return nil, string.format("knot %d: epoch and multiplier must be >= 0", i) end
      if p[1] < prev then return nil, string.format("knot %d: epochs must not decrease", i) end
      prev = p[1]
      out[i] = { p[1] + 0.0, p[2] + 0.0 }
    end
    return out
  elseif t == "model" then
    if type(v) == "string" then
      if models.presets[v] then return v end
      local s = M.suggest(v, models.preset_names)
      return nil, "unknown preset " .. M.show(v) .. (s and (" (did you mean '" .. s .. "'?)") or "") .. "; presets: " ..
        table.concat(models.preset_names, ", ") .. ", or a table { name = ..., layers = { ... } }"
    end
    if type(v) ~= "table" then return nil, "expected " .. describe(e) .. ", got " .. type(v) .. " " .. M.show(v) end
    return v -- checked layer by layer (with the dataset's shapes) by models.resolve in resolve_table
  elseif t == "sweep" or t == "baselines" then
    return v -- validated against the schema by validate_sweep / validate_baselines
  end
  error("schema: unknown type " .. tostring(t))
end
M.validate_value = validate_value

-- Edit distance counting a swap of neighbours as one edit (optimal string alignment), for "did you mean".
local function distance(a, b)
  local d = {}
  for i = 0, #a do d[i] = { [0] = i } end
  for j = 0, #b do d[0][j] = j end
  for i = 1, #a do
    for j = 1, #b do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      d[i][j] = math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if i > 1 and j > 1 and a:byte(i) == b:byte(j - 1) and a:byte(i - 1) == b:byte(j) then
        d[i][j] = math.min(d[i][j], d[i - 2][j - 2] + 1)
      end
    end
  end
  return d[#a][#b]
end
M.distance = distance

-- The closest of `candidates` to `key`, or nil if none is close enough to be a plausible typo.
function M.suggest(key, candidates)
  local best, bestd
  for _, c in ipairs(candidates) do
    local d = distance(key, c)
    if not bestd or d < bestd then best, bestd = c, d end
  end
  if bestd and bestd <= math.max(2, #key // 3) then return best end
  return nil
end

function M.closest(key)
  local candidates = {}
  for _, e in ipairs(M.schema) do candidates[#candidates + 1] = e.key end
  for g in pairs(M.groups) do candidates[#candidates + 1] = g end
  table.sort(candidates)
  local best = M.suggest(key, candidates)
  if best then return best end
  -- a right leaf under the wrong group: "phase3.batch" -> "phase1.batch"
  local leaf = key:match("([^.]+)$")
  for _, c in ipairs(candidates) do
    if c:match("([^.]+)$") == leaf then return c end
  end
  return nil
end

-- Keys that were renamed: the old name gets the new one, not a guess.
local RENAMED = { ["phase2.ranks"] = "phase2.ranks_per_worker" }

local function unknown_key_msg(key)
  if RENAMED[key] then return "unknown key '" .. key .. "' (renamed to '" .. RENAMED[key] .. "')" end
  local s = M.closest(key)
  return "unknown key '" .. key .. "'" .. (s and (" (did you mean '" .. s .. "'?)") or "")
end

-- Source locations ------------------------------------------------------------------------------------------

local function line_of(source, pos)
  local n = 1
  for _ in source:sub(1, pos - 1):gmatch("\n") do n = n + 1 end
  return n
end

-- Best-effort line of a dotted key in the experiment file: find each component in turn ("phase1" then
-- "batch" after it). Returns nil if not found.
function M.locate(source, key)
  if not source then return nil end
  local pos, found = 1, nil
  for part in key:gmatch("[^.]+") do
    local esc = part:gsub("%p", "%%%0")
    local s = source:find("%f[%w_]" .. esc .. "%f[^%w_]%s*=", pos)
    local s2 = source:find("%[%s*[\"']" .. esc .. "[\"']%s*%]%s*=", pos)
    if s2 and (not s or s2 < s) then s = s2 end
    if not s then
      -- dotted keys written as ["phase2.wash.p"] (sweep tables, flat style)
      local s3 = source:find("[\"']" .. key:gsub("%p", "%%%0") .. "[\"']", 1)
      if s3 then return line_of(source, s3) end
      return found
    end
    pos, found = s + 1, line_of(source, s)
  end
  return found
end

-- Loading and flattening ------------------------------------------------------------------------------------

local function fail(msg) error(msg, 0) end

-- Flatten a nested experiment table into dotted keys. Each problem raises "<where>: msg" via where(key).
local function flatten(tbl, prefix, out, where)
  for k, v in pairs(tbl) do
    if type(k) ~= "string" then
      fail(where(prefix) .. "unexpected entry " .. M.show(k) .. " in " .. (prefix == "" and "the top-level table" or
        ("'" .. prefix .. "'")) .. " (keys must be names)")
    end
    local key = prefix == "" and k or prefix .. "." .. k
    if M.by_key[key] then
      out[key] = v
    elseif M.groups[key] then
      if type(v) ~= "table" then fail(where(key) .. "'" .. key .. "' must be a table of settings, got " .. type(v)) end
      flatten(v, key, out, where)
    else
      fail(where(key) .. unknown_key_msg(key))
    end
  end
end

-- Parse the value text of an override for schema entry e.
local function parse_override_value(e, text)
  if text == "nil" and e.optional then return nil end
  if e.type == "string" then
    if text:match('^".*"$') or text:match("^'.*'$") then
      local f = load("return " .. text, "=override", "t", {})
      local ok, v = pcall(f or error)
      if ok and type(v) == "string" then return v end
    end
    return text
  elseif e.type == "int" or e.type == "number" then
    local v = math.tointeger(text) or tonumber(text)
    if v == nil then return text end -- reported as a type error
    return v
  elseif e.type == "boolean" then
    if text == "true" then return true elseif text == "false" then return false end
    return text
  elseif e.type == "model" and text:match("^[%w_]+$") then
    return text
  else
    local f, err = load("return " .. text, "=override", "t", {})
    if not f then return nil, "cannot parse value: " .. err:gsub("^override:1: ", "") end
    local ok, v = pcall(f)
    if not ok then return nil, "cannot evaluate value: " .. tostring(v) end
    return v
  end
end

-- Parse "key=value" into key, value (typed by the schema). Raises one-line errors.
function M.parse_override(ov)
  local where = "--set '" .. ov .. "': "
  local key, text = ov:match("^%s*([^=]-)%s*=(.*)$")
  if not key or key == "" then fail(where .. "expected key=value") end
  local e = M.by_key[key]
  local bname, field = key:match("^baselines%.([^.]+)%.?(.*)$")
  if bname then -- one baseline ("baselines.small={batch=128}") or one of its settings ("baselines.small.epochs=5")
    if not bname:match(M.BASELINE_NAME) then
      fail(where .. "baseline name '" .. bname .. "' may only hold A-Z a-z 0-9 _ -")
    end
    if field == "" then
      e = { type = "table" }
    else
      e = M.baseline_by_key[field]
      if not e then
        local cands = {}
        for _, be in ipairs(M.baseline_schema) do cands[#cands + 1] = be.key end
        local s = M.suggest(field, cands)
        fail(where .. "unknown baseline setting '" .. field .. "'" .. (s and (" (did you mean '" .. s .. "'?)") or ""))
      end
    end
  end
  if not e then fail(where .. unknown_key_msg(key)) end
  local v, err = parse_override_value(e, text)
  if err then fail(where .. err) end
  return key, v
end

local function validate_sweep(sweep, where)
  if type(sweep) ~= "table" then fail(where("sweep") .. "'sweep' must be a table of key -> list of values") end
  local out, seen = {}, {}
  -- one swept key; `zip` (index of its zipped group) only for messages
  local function one(k, list, zip)
    if type(k) ~= "string" then fail(where("sweep") .. "sweep keys must be dotted key strings, got " .. M.show(k)) end
    local e = M.by_key[k]
    if not e then fail(where(k) .. "sweep: " .. unknown_key_msg(k)) end
    if k == "sweep" or k == "name" or k == "profile" or k == "results" or k == "baselines" or k == "shared_dir" then
      fail(where(k) .. "sweep: '" .. k .. "' cannot be swept")
    end
    if seen[k] then fail(where(k) .. "sweep: '" .. k .. "' is swept twice") end
    seen[k] = true
    if type(list) ~= "table" or #list == 0 then
      fail(where(k) .. "sweep '" .. k .. "': expected a non-empty list of values")
    end
    local vals = {}
    for i, v in ipairs(list) do
      local nv, err = validate_value(e, v)
      if err then fail(where(k) .. string.format("sweep '%s' value %d: %s", k, i, err)) end
      vals[i] = nv
    end
    return vals
  end
  for k, list in pairs(sweep) do
    if math.type(k) ~= "integer" then out[k] = one(k, list) end
  end
  -- positional entries are zipped groups: { ["phase1.batch"] = {512, 1024}, ["phase1.lr"] = {0.4, 0.8} } varies
  -- its keys together (value i of every key in point i), and the product is taken with the other keys
  for i, group in ipairs(sweep) do
    if type(group) ~= "table" or next(group) == nil or #group > 0 then
      fail(where("sweep") .. "sweep entry " .. i .. ": a zipped group is a table of key -> list of values, got " ..
        M.show(group))
    end
    local g, n, first = {}, nil, nil
    for k, list in pairs(group) do
      g[k] = one(k, list, i)
      if n and #g[k] ~= n then
        fail(where(k) .. string.format("sweep: zipped keys need lists of one length ('%s' has %d values, '%s' %d)",
          first, n, k, #g[k]))
      end
      n, first = n or #g[k], first or k
    end
    out[#out + 1] = g
  end
  for k in pairs(sweep) do
    if math.type(k) == "integer" and (k < 1 or k > #sweep) then fail(where("sweep") .. "sweep: unexpected entry [" .. k .. "]") end
  end
  return out
end

local function copy(v)
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = copy(x) end
  return t
end

-- Baselines against their schema, with inherited and derived settings filled in from the resolved phase 1.
-- Returns { name = { field = value, ... } } (every field set; lr and base_batch resolved) .
local function validate_baselines(b, flat, where)
  if type(b) ~= "table" then fail(where("baselines") .. "'baselines' must be a table of name -> settings, got " .. type(b)) end
  local out = {}
  for name, t in pairs(b) do
    if type(name) ~= "string" or not name:match(M.BASELINE_NAME) then
      fail(where("baselines") .. "baseline names may only hold A-Z a-z 0-9 _ - (got " .. M.show(name) .. ")")
    end
    local pre = "baselines." .. name
    if type(t) ~= "table" then fail(where(pre) .. "baseline '" .. name .. "': expected a table of settings such as " ..
      "{ batch = 128, epochs = 10 }, got " .. type(t) .. " " .. M.show(t)) end
    for k in pairs(t) do
      if type(k) ~= "string" or not M.baseline_by_key[k] then
        local cands = {}
        for _, be in ipairs(M.baseline_schema) do cands[#cands + 1] = be.key end
        local s = type(k) == "string" and M.suggest(k, cands) or nil
        fail(where(pre .. "." .. tostring(k)) .. "baseline '" .. name .. "': unknown setting " .. M.show(k) ..
          (s and (" (did you mean '" .. s .. "'?)") or ""))
      end
    end
    local r = {}
    for _, e in ipairs(M.baseline_schema) do
      local v = t[e.key]
      if v == nil then
        if e.required then
          fail(where(pre) .. "baseline '" .. name .. "': missing '" .. e.key .. "' (" .. e.doc .. ")")
        end
        if e.inherit then v = copy(flat[e.inherit]) else v = e.default end
      end
      if v ~= nil then
        local nv, err = validate_value(e, v)
        if err then fail(where(pre .. "." .. e.key) .. "'" .. pre .. "." .. e.key .. "': " .. err) end
        r[e.key] = nv
      end
    end
    -- lr: the same linear scaling rule as phase 1 (lr is the rate at base_batch)
    if r.lr == nil then
      r.lr = flat["phase1.lr"]
      if r.base_batch == nil then
        r.base_batch = flat["phase1.base_batch"] > 0 and flat["phase1.base_batch"] or flat["phase1.batch"]
      end
    elseif r.base_batch == nil then
      r.base_batch = flat["phase1.base_batch"]
    end
    local function need(cond, key, msg) if not cond then fail(where(pre .. "." .. key) .. "baseline '" .. name .. "': " .. msg) end end
    need(r.batch % r.ranks == 0, "batch", string.format("batch (%d) must be divisible by ranks (%d)", r.batch, r.ranks))
    if r.schedule == "knots" then need(#r.knots >= 2, "knots", "schedule \"knots\" needs at least 2 knots") end
    if r.schedule == "step" then need(r.step_every > 0, "step_every", "schedule \"step\" needs step_every > 0") end
    out[name] = r
  end
  return out
end

-- The names of an experiment's baselines, sorted (`flat` from resolve).
function M.baseline_names(flat)
  local names = {}
  for k in pairs(flat.baselines or {}) do names[#names + 1] = k end
  table.sort(names)
  return names
end

-- The learning rate a baseline trains with (after batch scaling).
function M.baseline_lr(b)
  return b.base_batch > 0 and b.lr * b.batch / b.base_batch or b.lr
end

-- Checks that involve several keys. `flat` is complete (defaults filled).
local function cross_check(flat, where)
  local function need(cond, key, msg) if not cond then fail(where(key) .. msg) end end
  need(flat["phase1.batch"] % flat["phase1.ranks"] == 0, "phase1.batch", string.format(
    "phase1.batch (%d) must be divisible by phase1.ranks (%d)", flat["phase1.batch"], flat["phase1.ranks"]))
  need(flat["phase2.batch"] % flat["phase2.ranks_per_worker"] == 0, "phase2.batch", string.format(
    "phase2.batch (%d) must be divisible by phase2.ranks_per_worker (%d)", flat["phase2.batch"],
    flat["phase2.ranks_per_worker"]))
  need(flat["phase3.min_workers"] <= flat["phase2.workers"], "phase3.min_workers", string.format(
    "phase3.min_workers (%d) must not exceed phase2.workers (%d)", flat["phase3.min_workers"], flat["phase2.workers"]))
  if flat["phase1.schedule"] == "knots" then
    need(#flat["phase1.knots"] >= 2, "phase1.knots", "schedule \"knots\" needs phase1.knots with at least 2 {epoch, multiplier} pairs")
  end
  if flat["phase1.schedule"] == "step" then
    need(flat["phase1.step_every"] > 0, "phase1.step_every", "schedule \"step\" needs phase1.step_every > 0")
  end
  if flat["phase3.soup"] == "greedy" then
    need(flat["data.val_split"] > 0, "phase3.soup", "phase3.soup = \"greedy\" picks workers by validation accuracy: " ..
      "it needs a validation split (set data.val_split, e.g. 5000)")
  end
  if flat["precision"] == "bf16" then
    need(flat["model"] ~= "mlp", "precision", "precision \"bf16\" runs the convolutions in bf16; model \"mlp\" has " ..
      "none (its linear layers stay fp32): use precision = \"fp32\"")
  end
  if flat.dataset == "hdf5" then
    need(flat.data_file ~= nil and flat.data_file ~= "", "data_file",
      "dataset = \"hdf5\" needs data_file = \"PATH\" (the HDF5 dataset file)")
  else
    need(flat.data_file == nil, "data_file", "data_file is only used with dataset = \"hdf5\" (dataset is \"" ..
      flat.dataset .. "\"; data_dir names the directory of a built-in dataset)")
  end
  if flat["phase2.mode"] ~= "independent" then
    need(flat["phase2.workers"] >= 2, "phase2.workers", "phase2.mode \"" .. flat["phase2.mode"] .. "\" needs phase2.workers >= 2")
    -- WASH/PAPA exchange parameters rank to rank over the job's one communicator (one member per rank); a
    -- member made of k ranks would need a group and a cross-group communicator, which comm.c does not have.
    need(flat["phase2.ranks_per_worker"] == 1, "phase2.ranks_per_worker", "phase2.mode \"" .. flat["phase2.mode"] ..
      "\" runs one member per rank: phase2.ranks_per_worker must be 1 (worker groups are for mode \"independent\")")
  end
end

-- Read and evaluate an experiment file; returns its table, its source text and the paths of the files it
-- imported. An experiment may start from a sibling file: `local e = import("cifar10.lua")` returns that
-- file's table (a fresh one each call) to edit and return. Only a plain file name in the same directory, so
-- a copy of the directory (swap-slurm's snapshot) resolves the same imports.
function M.load_file(path, seen)
  seen = seen or {}
  if seen[path] then fail(path .. ": imports itself (through " .. table.concat(seen, " -> ") .. ")") end
  local fh, oerr = io.open(path, "rb")
  if not fh then fail(path .. ": cannot open (" .. tostring(oerr):gsub("^[^:]*: ", "") .. ")") end
  local source = fh:read("a")
  fh:close()
  local dir, imports = path:match("^(.*)/[^/]*$") or ".", {}
  local function import(name)
    if type(name) ~= "string" or not name:match("^[%w_.-]+%.lua$") then
      error(path .. ": import: expected a file name in the same directory (like \"cifar10.lua\"), got " ..
            tostring(name), 0)
    end
    local other = dir .. "/" .. name
    seen[path] = true
    seen[#seen + 1] = path
    local t, _, nested = M.load_file(other, seen)
    seen[path], seen[#seen] = nil, nil
    imports[#imports + 1] = other
    for _, n in ipairs(nested) do imports[#imports + 1] = n end
    return t
  end
  -- chunkname "@path" makes Lua report syntax and runtime errors as "path:line: ..."
  local chunk, err = load(source, "@" .. path, "t", setmetatable({ import = import }, { __index = _G }))
  if not chunk then fail(err) end
  local ok, tbl = pcall(chunk)
  if not ok then fail(tostring(tbl)) end
  if type(tbl) ~= "table" then fail(path .. ": the experiment file must return a table, got " .. type(tbl)) end
  return tbl, source, imports
end

-- Validate a nested experiment table (plus overrides) and return the flat, complete table.
-- `path` and `source` are only used to locate errors.
function M.resolve_table(tbl, overrides, path, source)
  path = path or "<experiment>"
  local ov_of = {}
  local function where(key)
    local k = key
    while k do -- a baseline setting may come from an override of the whole baseline
      if ov_of[k] then return "--set '" .. ov_of[k] .. "': " end
      k = k:match("^(baselines%..+)%.[^.]+$")
    end
    local line = key and M.locate(source, key)
    return path .. (line and (":" .. line) or "") .. ": "
  end
  local given = {}
  flatten(tbl, "", given, where)
  for _, ov in ipairs(overrides or {}) do
    local k, v = M.parse_override(ov)
    local bname, field = k:match("^baselines%.([^.]+)%.?(.*)$")
    if bname then -- edit a copy: the experiment's own table is resolved again for every sweep pipeline
      local b = copy(given.baselines or {})
      if type(b) ~= "table" then fail(where("baselines") .. "'baselines' must be a table of name -> settings") end
      if field == "" then
        b[bname] = v
      else
        if type(b[bname]) ~= "table" then b[bname] = {} end
        b[bname][field] = v
      end
      given.baselines = b
    else
      given[k] = v
    end
    ov_of[k] = ov
  end
  local flat = {}
  for _, e in ipairs(M.schema) do
    local v = given[e.key]
    if v == nil and not ov_of[e.key] then
      if e.required then fail(where(nil) .. "missing required key '" .. e.key .. "' (" .. e.doc .. ")") end
      v = e.default
      if type(v) == "table" then v = {} end
    end
    if e.type == "sweep" then
      flat[e.key] = validate_sweep(v, where)
    elseif e.type == "baselines" then
      flat[e.key] = v -- validated below, once phase 1 is resolved
    else
      local nv, err = validate_value(e, v)
      if err then fail(where(e.key) .. "'" .. e.key .. "': " .. err) end
      flat[e.key] = nv
    end
  end
  cross_check(flat, where)
  -- the network, checked layer by layer against the dataset's shapes; the C side builds model_json
  local ok, net = pcall(models.resolve, flat.model, flat.width, flat.dataset)
  if not ok then fail(where("model") .. tostring(net)) end
  flat.model_name, flat.model_json = net.name, models.json(net)
  flat.baselines = validate_baselines(flat.baselines, flat, where)
  -- the C side reads a baseline's settings as dotted keys ("baselines.small.batch")
  for name, r in pairs(flat.baselines) do
    for k, v in pairs(r) do flat["baselines." .. name .. "." .. k] = v end
  end
  return flat
end

-- The public entry: resolve(path, overrides) -> flat table of dotted keys -> values (defaults filled; unset
-- optional keys are absent). `overrides` is a list of "key=value" strings.
function M.resolve(path, overrides)
  local tbl, source = M.load_file(path)
  return M.resolve_table(tbl, overrides, path, source)
end

-- Sorted "key = value" lines (unset keys as "nil"), as recorded in checkpoints and logs.
function M.format(flat)
  local keys = {}
  for _, e in ipairs(M.schema) do keys[#keys + 1] = e.key end
  table.sort(keys)
  local lines = {}
  for _, k in ipairs(keys) do lines[#lines + 1] = k .. " = " .. M.show(flat[k]) end
  return table.concat(lines, "\n") .. "\n"
end

-- Markdown reference generated from the schema (docs/config.md).
function M.markdown()
  local out = { "# Experiment configuration reference", "",
    "Generated from `lua/swap/config.lua` by `lua5.4 lua/swap/config.lua --markdown`; do not edit by hand.", "",
    "An experiment is a Lua file returning a table; nested tables (`phase1 = { batch = 512 }`) and the dotted",
    "keys below are the same thing. Every key may be overridden on any command line with `--set key=value`",
    "(numbers, `true`/`false`, strings, `nil` for optional keys, Lua lists such as `{{0,0},{5,1}}`).", "",
    "An experiment may start from another in the same directory: `local e = import(\"cifar10.lua\")` returns",
    "that file's table to edit and return (as `lua/experiments/cifar100.lua` does); `swap-slurm` snapshots",
    "imported files beside the experiment.", "",
    "Cross-field rules: `phase1.batch` divisible by `phase1.ranks`; `phase2.batch` divisible by",
    "`phase2.ranks_per_worker`; `phase2.mode` `wash`/`papa` need `phase2.ranks_per_worker = 1`;",
    "`phase3.min_workers <= phase2.workers`; schedule `knots` needs >= 2 knots; schedule `step` needs",
    "`phase1.step_every > 0`; phase2 modes `wash`/`papa` need >= 2 workers; `phase3.soup = \"greedy\"` needs",
    "`data.val_split > 0`.", "",
    "| key | type | default | allowed | description |", "|---|---|---|---|---|" }
  for _, e in ipairs(M.schema) do
    local default = e.required and "(required)" or (e.default == nil and "unset" or M.show(e.default))
    local allowed = describe(e):gsub("|", "\\|")
    out[#out + 1] = string.format("| `%s` | %s | `%s` | %s | %s |", e.key, e.type, default:gsub("|", "\\|"), allowed,
      e.doc:gsub("|", "\\|"))
  end
  local b = { "", "## Baselines", "",
    "`baselines = { small = { batch = 128, epochs = 10 }, large = { batch = 2048, epochs = 10 } }` names models",
    "trained from scratch for comparison, each by `swap-train EXPERIMENT --baseline <name>` (`swap-run` runs them",
    "after the SWAP chain, or alone with `--only baselines`; `swap-slurm submit` submits each as its own job,",
    "independent of the chain). A baseline uses the experiment's data, augmentation, model initialisation and",
    "phase-1 data seed; only the settings below differ. Outputs: `<results>/<name>/baseline-<name>/model.h5` and",
    "`log.jsonl`; `summary.json` gets `baselines.<name>` (test accuracy and loss, wall time, images). Names hold",
    "A-Z a-z 0-9 _ -. Override one setting with `--set baselines.<name>.<setting>=value`, a whole baseline with",
    "`--set 'baselines.<name>={batch=256}'`, none with `--set baselines={}`.", "",
    "| setting | type | default | allowed | description |", "|---|---|---|---|---|" }
  for _, l in ipairs(b) do out[#out + 1] = l end
  for _, e in ipairs(M.baseline_schema) do
    local default = e.required and "(required)" or e.inherit and ("`" .. e.inherit .. "`") or
      (e.default == nil and "see description" or ("`" .. M.show(e.default) .. "`"))
    out[#out + 1] = string.format("| `%s` | %s | %s | %s | %s |", e.key, e.type, default, describe(e):gsub("|", "\\|"),
      e.doc:gsub("|", "\\|"))
  end
  local n = { "", "## Networks (`model`)", "",
    "`model` is a preset name or a table `{ name = \"mynet\", layers = { { \"conv\", out = 32 }, { \"bn\" }, ... } }`",
    "(the network language, with a worked example: [networks.md](networks.md)). The first element of each layer",
    "table is its kind; every layer also takes `name`, the prefix of its tensors' names (default: its position,",
    "`layers.3.body.0`). The input shape comes from the dataset; the last layer must give one output per class.",
    "Problems are one line naming the layer: `model.layers[4].body[1]: conv: k=7 is larger than the 4x4 input`.", "",
    "| kind | key | type | default | description |", "|---|---|---|---|---|" }
  for _, l in ipairs(n) do out[#out + 1] = l end
  for _, kind in ipairs(models.kind_names) do
    local K = models.kinds[kind]
    out[#out + 1] = string.format("| `%s` | | | | %s |", kind, K.doc)
    for _, key in ipairs(K.order or {}) do
      local e = K.keys[key]
      local d = e[2]
      local ds = d == nil and "(required)" or type(d) == "function" and "see description" or
        (type(d) == "table" and "`{}`" or "`" .. M.show(d) .. "`")
      out[#out + 1] = string.format("| | `%s` | %s | %s | %s |", key, e[1] == "layers" and "list of layers" or e[1], ds, e[5])
    end
  end
  out[#out + 1] = ""
  out[#out + 1] = "| preset | network |"
  out[#out + 1] = "|---|---|"
  for _, p in ipairs(models.preset_names) do
    out[#out + 1] = string.format("| `%s` | %s |", p, models.preset_doc[p])
  end
  return table.concat(out, "\n") .. "\n"
end

if arg and arg[0] and arg[0]:match("config%.lua$") and arg[1] == "--markdown" then io.write(M.markdown()) end

return M
