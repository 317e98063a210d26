-- lua/swap/models.lua: the network language. Presets resolve; a table model resolves with its defaults; every
-- kind of bad input is a one-line error naming the layer's path (through config.resolve, with file:line), and
-- swap-slurm plan refuses a bad network before writing anything.
local src = os.getenv("SWAP_SOURCE_DIR") or "."
package.path = src .. "/lua/?.lua;" .. package.path
local config = require "swap.config"
local models = require "swap.models"

local T = dofile(src .. "/tests/lua/testlib.lua").new("test_models.lua")
local check = T.check
local tmp = T.tmpdir("test_models_lua")
local function write(name, text)
  local path = tmp .. "/" .. name
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

-- presets: every one resolves for the datasets it fits; names as the old C builders had them (resnet9)
for _, p in ipairs(models.preset_names) do
  local ok, net = pcall(models.resolve, p, 64, "cifar10")
  check(ok, p .. " resolves for cifar10: " .. tostring(net))
  if ok then check(net.name == p and #net.layers > 0, p .. ": name and layers") end
end
local r9 = models.resolve("resnet9", 16, "cifar10")
check(r9.layers[1].name == "prep.conv" and r9.layers[1].out == 16 and r9.layers[1].bias == false, "resnet9 prep.conv")
check(r9.layers[8].kind == "residual" and r9.layers[8].name == "layer1.add" and #r9.layers[8].body == 6 and
  #r9.layers[8].shortcut == 0, "resnet9 layer1 residual (identity shortcut)")
local r18 = models.resolve("resnet18", 64, "cifar10")
local function find(list, name)
  for _, l in ipairs(list) do
    if l.name == name then return l end
    for _, k in ipairs({ "body", "shortcut" }) do
      local f = l[k] and find(l[k], name)
      if f then return f end
    end
  end
end
check(find(r18.layers, "layer2.0.shortcut.0").stride == 2 and find(r18.layers, "layer2.0.shortcut.0").k == 1,
  "resnet18 projection shortcut")
check(find(r18.layers, "layer1.0").shortcut[1] == nil, "resnet18 identity shortcut in layer1")
check(not pcall(models.resolve, "resnet20", 30, "cifar10"), "resnet20 width must be a multiple of 4")

-- a table model: defaults filled (conv k 3, pad (k-1)/2, bias true; pool stride k), names by position
local net = models.resolve({ name = "mine", layers = {
  { "conv", out = 8 }, { "maxpool", k = 3 }, { "residual", body = { { "conv", out = 8, k = 1 } } },
  { "global_avgpool" }, { "linear", out = 10 } } }, 64, "cifar10")
check(net.layers[1].k == 3 and net.layers[1].pad == 1 and net.layers[1].stride == 1 and net.layers[1].bias == true,
  "conv defaults")
check(net.layers[2].stride == 3, "maxpool stride defaults to k")
check(net.layers[1].name == "layers.0" and net.layers[3].body[1].name == "layers.2.body.0", "default names")
check(models.json(net):find('{"name":"mine","layers":[{"kind":"conv","name":"layers.0","out":8,"k":3,"stride":1', 1, true) == 1,
  "json: fixed key order")

-- bad input: one line, naming the layer by its path; through the experiment file with its line number
local function expect(label, model_src, dataset, ...)
  local path = write(label:gsub("%W", "_") .. ".lua", "return { name = 'x', dataset = '" .. (dataset or "cifar10") ..
    "',\n  model = " .. model_src .. " }\n")
  local ok, e = pcall(config.resolve, path, {})
  check(not ok, label .. ": expected an error")
  if ok then return end
  check(not e:find("\n"), label .. ": one line: " .. e)
  check(e:find(path .. ":2: ", 1, true) == 1, label .. ": starts with the file and line: " .. e)
  for _, want in ipairs({ ... }) do check(e:find(want, 1, true) ~= nil, label .. ": lacks '" .. want .. "': " .. e) end
end
local head = '{ name = "n", layers = { { "conv", out = 8, k = 3 }, { "maxpool", k = 2 }, { "maxpool", k = 2 }, { "maxpool", k = 2 }, '
expect("kernel larger than input", head .. '{ "residual", body = { { "conv", out = 8, k = 7, pad = 0 } } } } }', nil,
  "model.layers[5].body[1]: conv: k=7 is larger than the 4x4 input")
expect("pool larger than input", '{ layers = { { "maxpool", k = 40 } } }', nil,
  "model.layers[1]: maxpool: k=40 is larger than the 32x32 input")
expect("unknown kind", '{ layers = { { "conv", out = 4 }, { "dropot" } } }', nil,
  "model.layers[2]: unknown kind 'dropot'", "known: conv, bn")
expect("unknown key", '{ layers = { { "conv", out = 4, kernel = 3 } } }', nil,
  "model.layers[1]: conv: unknown key 'kernel'", "conv takes bias, k, out, pad, stride")
expect("wrong type", '{ layers = { { "conv", out = "8" } } }', nil, "model.layers[1]: conv: out must be an integer")
expect("wrong bool", '{ layers = { { "linear", out = 10, bias = 1 } } }', nil,
  "model.layers[1]: linear: bias must be true or false")
expect("missing key", '{ layers = { { "conv", k = 3 } } }', nil, "model.layers[1]: conv: missing key 'out'")
expect("residual mismatch", '{ layers = { { "residual", body = { { "conv", out = 8, stride = 2 } } } } }', nil,
  "model.layers[1]: residual: the body gives 8x16x16 but the shortcut gives 3x32x32")
expect("last layer size", '{ layers = { { "global_avgpool" }, { "linear", out = 7 } } }', nil,
  "model.layers[2]: linear: the last layer's output is 7, but the loss needs 10 outputs")
expect("last layer not flat", '{ layers = { { "conv", out = 10 } } }', nil, "the last layer's output is 10x32x32")
expect("cifar100 classes", '{ layers = { { "flatten" }, { "linear", out = 10 } } }', "cifar100",
  "needs 100 outputs")
expect("linear on an image", '{ layers = { { "linear", out = 10 } } }', nil,
  "model.layers[1]: linear: needs a flat input, got 3x32x32")
expect("bn on a vector", '{ layers = { { "flatten" }, { "bn" } } }', nil, "model.layers[2]: bn: needs an image input")
expect("not a layer", '{ layers = { "relu" } }', nil, "model.layers[1]: a layer must be a table whose first element is its kind")
expect("duplicate name", '{ layers = { { "conv", out = 4, name = "a" }, { "conv", out = 4, name = "a" } } }', nil,
  "model.layers[2]: conv: name 'a' is used by another layer")
expect("bad name", '{ layers = { { "conv", out = 4, name = "a b" } } }', nil, "name \"a b\" must be")
expect("unknown network key", '{ layer = {} }', nil, "model: unknown key \"layer\"")
expect("empty body", '{ layers = { { "residual", body = {} } } }', nil, "model.layers[1]: residual: 'body' must be a non-empty list")
expect("out of range", '{ layers = { { "conv", out = 0 } } }', nil, "model.layers[1]: conv: out=0 is out of range")
expect("preset too deep for the input", '"vgg11"', "fashion-mnist", 'model = "vgg11" (width 64): model.layers[29]: maxpool: k=2 is larger than the 1x1 input')
expect("unknown preset", '"resnet50"', nil, "unknown preset \"resnet50\"")

-- --set model=... (a preset, or a table) and a sweep over presets
local base = write("ok.lua", "return { name = 'x', dataset = 'cifar10', model = 'resnet9' }\n")
local flat = config.resolve(base, { "model=resnet20" })
check(flat.model_name == "resnet20" and flat.model_json:find('"name":"layer3.2.conv2"', 1, true), "--set model=resnet20")
flat = config.resolve(base, { 'model={name="tiny", layers={{"global_maxpool"}, {"linear", out=10}}}' })
check(flat.model_name == "tiny" and flat.model_json:find('"kind":"global_maxpool"', 1, true), "--set model={...}")
local ok, e = pcall(config.resolve, base, { 'model={layers={{"linear", out=10}}}' })
check(not ok and e:find("--set 'model=", 1, true) == 1 and e:find("needs a flat input", 1, true), "--set model: bad table: " .. tostring(e))
flat = config.resolve(write("sw.lua", "return { name = 'x', dataset = 'cifar10', sweep = { model = { 'resnet9', 'vgg11' } } }\n"), {})
check(flat.sweep.model[2] == "vgg11", "sweep over presets")

-- swap-slurm plan refuses a bad network before writing anything
local bad = write("bad_slurm.lua", "return { name = 'badnet', dataset = 'cifar10', results = '" .. tmp ..
  "/results',\n  model = { layers = { { 'conv', out = 4, k = 33, pad = 0 } } } }\n")
local bin = os.getenv("SWAP_BIN") or (src .. "/bin")
local h = io.popen("'" .. bin .. "/swap-slurm' plan '" .. bad .. "' 2>&1; echo rc=$?")
local out = h:read("a")
h:close()
check(out:find("model.layers[1]: conv: k=33 is larger than the 32x32 input", 1, true) ~= nil and
  out:find("rc=1", 1, true) ~= nil, "swap-slurm plan: one-line error and exit 1: " .. out)
local d = io.open(tmp .. "/results/badnet")
check(d == nil, "swap-slurm plan wrote nothing for a bad network")
if d then d:close() end

-- ... and so do the C executables (embedded Lua), before any training
for _, exe in ipairs({ "swap-train", "swap-run" }) do
  h = io.popen("'" .. bin .. "/" .. exe .. "' '" .. bad .. "' 2>&1; echo rc=$?")
  out = h:read("a")
  h:close()
  check(out:find("model.layers[1]: conv: k=33 is larger than the 32x32 input", 1, true) ~= nil and
    out:find("rc=1", 1, true) ~= nil, exe .. ": one-line error and exit 1: " .. out)
  d = io.open(tmp .. "/results/badnet")
  check(d == nil, exe .. " wrote nothing for a bad network")
  if d then d:close() end
end

os.execute("rm -rf '" .. tmp .. "'")
T.finish()
