-- Networks as data: the network language of an experiment's `model` key, its presets, and its validation.
-- Shared by the C executables (embedded Lua: config resolution and config/presets.c) and swap-slurm, so a
-- network is checked before anything trains or any job file is written.
--
--   model = "resnet9"                                   -- a preset, scaled by the experiment's `width`
--   model = { name = "mynet", layers = {
--     { "conv", out = 32, k = 3, stride = 1, pad = 1, bias = false }, { "bn" }, { "relu" },
--     { "residual", body = { ... }, shortcut = { ... } },   -- body(x) + shortcut(x); identity without shortcut
--     { "maxpool", k = 2 }, { "avgpool", k = 2 },           -- stride defaults to k
--     { "global_avgpool" }, { "global_maxpool" }, { "flatten" },
--     { "linear", out = 10, bias = true }, { "scale", by = 0.125 } } }
--
-- M.resolve(model, width, dataset) checks a model against the kinds below (and, when the dataset's shape is
-- known, every shape: kernels and pools larger than their input, residual shapes, the class count) and returns
-- the resolved network: { name = ..., layers = { { kind = "conv", name = "layers.0", out = 32, ... }, ... } }
-- with every default filled in; M.json(net) is its JSON text, which the C engine builds (src/nn/layer.h).
-- Errors are one line naming the layer by its path: "model.layers[4].body[1]: conv: k=7 is larger than the
-- 4x4 input".
local M = {}

local function fail(msg) error(msg, 0) end

-- Kinds: key -> { type, default (nil: required; a function: computed from the resolved keys), min, max, doc }.
-- Every layer also takes `name` (the prefix of its tensors' names; default: its position, "layers.3.body.0").
local INT, BOOL, NUM, LAYERS = "integer", "boolean", "number", "layers"
M.kinds = {
  conv = { doc = "2-D convolution (PyTorch Conv2d) on an image.", order = { "out", "k", "stride", "pad", "bias" },
    keys = {
      out = { INT, nil, 1, 65536, "output channels (required)" },
      k = { INT, 3, 1, 64, "kernel size (k x k)" },
      stride = { INT, 1, 1, 64, "stride" },
      pad = { INT, function(t) return (t.k - 1) // 2 end, 0, 64, "zero padding on each side; default (k-1)/2" },
      bias = { BOOL, true, nil, nil, "add a learned bias per output channel" } } },
  bn = { doc = "Batch normalization over channels (BatchNorm2d, eps 1e-5, momentum 0.1) on an image.", keys = {} },
  relu = { doc = "max(x, 0).", keys = {} },
  residual = { doc = "body(x) + shortcut(x); the shortcut is the identity when absent or empty.",
    order = { "body", "shortcut" },
    keys = { body = { LAYERS, nil, nil, nil, "the layers of the main path (required, non-empty)" },
             shortcut = { LAYERS, {}, nil, nil, "the layers of the shortcut (e.g. a 1x1 conv + bn)" } } },
  maxpool = { doc = "Max over k x k windows (MaxPool2d, no padding, floor output size).", order = { "k", "stride" },
    keys = { k = { INT, 2, 1, 64, "window size" },
             stride = { INT, function(t) return t.k end, 1, 64, "stride; default k" } } },
  avgpool = { doc = "Mean over k x k windows (AvgPool2d, no padding, floor output size).", order = { "k", "stride" },
    keys = { k = { INT, 2, 1, 64, "window size" },
             stride = { INT, function(t) return t.k end, 1, 64, "stride; default k" } } },
  global_avgpool = { doc = "Mean over each channel's plane: an image becomes a flat vector of its channels.", keys = {} },
  global_maxpool = { doc = "Max over each channel's plane: an image becomes a flat vector of its channels.", keys = {} },
  flatten = { doc = "An image becomes a flat vector (PyTorch's channel, row, column order).", keys = {} },
  linear = { doc = "Fully connected layer (PyTorch Linear) on a flat vector.", order = { "out", "bias" },
    keys = { out = { INT, nil, 1, 1 << 24, "outputs (required)" },
             bias = { BOOL, true, nil, nil, "add a learned bias per output" } } },
  scale = { doc = "Multiply by a constant (ResNet-9 scales its logits by 1/8).", order = { "by" },
    keys = { by = { NUM, nil, -1e30, 1e30, "the factor (required)" } } },
}
M.kind_names = { "conv", "bn", "relu", "residual", "maxpool", "avgpool", "global_avgpool", "global_maxpool",
                 "flatten", "linear", "scale" }

-- Input shape {channels, height, width} and classes of the datasets Lua knows; others are checked by the engine
-- once the data is loaded (still before training starts).
M.datasets = {
  ["fashion-mnist"] = { 1, 28, 28, classes = 10 }, mnist = { 1, 28, 28, classes = 10 },
  cifar10 = { 3, 32, 32, classes = 10 }, cifar100 = { 3, 32, 32, classes = 100 },
}

local function show(v)
  if type(v) == "string" then return string.format("%q", v) end
  return tostring(v)
end

local function name_ok(s)
  return type(s) == "string" and #s >= 1 and #s <= 48 and not s:find("[^A-Za-z0-9_.]") and not s:find("%.%.") and
    s:sub(1, 1) ~= "." and s:sub(-1) ~= "."
end

-- Resolve a list of layers; `path` "model.layers", `base` the default tensor prefix "layers".
local resolve_list
local function resolve_layer(l, path, base, st)
  if type(l) ~= "table" or type(l[1]) ~= "string" then
    fail(path .. ": a layer must be a table whose first element is its kind, like { \"relu\" } (got " ..
      (type(l) == "table" and "a table without a kind" or type(l) .. " " .. show(l)) .. ")")
  end
  local kind = l[1]
  local K = M.kinds[kind]
  if not K then
    local s = require("swap.config").suggest(kind, M.kind_names)
    fail(path .. ": unknown kind '" .. kind .. "'" .. (s and (" (did you mean '" .. s .. "'?)") or "") ..
      "; known: " .. table.concat(M.kind_names, ", "))
  end
  local pre = path .. ": " .. kind .. ": "
  for k in pairs(l) do
    if k ~= 1 and k ~= "name" and not K.keys[k] then
      local cands = {}
      for key in pairs(K.keys) do cands[#cands + 1] = key end
      table.sort(cands)
      local s = type(k) == "string" and require("swap.config").suggest(k, cands) or nil
      fail(pre .. "unknown key " .. (type(k) == "string" and ("'" .. k .. "'") or ("[" .. show(k) .. "]")) ..
        (s and (" (did you mean '" .. s .. "'?)") or "") .. " (" .. kind .. " takes " ..
        (#cands > 0 and table.concat(cands, ", ") or "no keys") .. " besides name)")
    end
  end
  local name = l.name
  if name == nil then name = base end
  if not name_ok(name) then
    fail(pre .. "name " .. show(name) .. " must be 1-48 characters of A-Z a-z 0-9 _ . (dot-separated)")
  end
  if st.names[name] then fail(pre .. "name '" .. name .. "' is used by another layer (" .. st.names[name] .. ")") end
  st.names[name] = path
  local r = { kind = kind, name = name }
  for _, key in ipairs(K.order or {}) do
    local e = K.keys[key]
    local v = l[key]
    if e[1] ~= LAYERS then
      if v == nil then
        v = e[2]
        if type(v) == "function" then v = v(r) end
        if v == nil then fail(pre .. "missing key '" .. key .. "' (" .. e[5] .. ")") end
      end
      if e[1] == INT and (type(v) ~= "number" or math.tointeger(v) == nil) then fail(pre .. key .. " must be an integer, got " .. type(v) .. " " .. show(v)) end
      if e[1] == NUM and type(v) ~= "number" then fail(pre .. key .. " must be a number, got " .. type(v) .. " " .. show(v)) end
      if e[1] == BOOL and type(v) ~= "boolean" then fail(pre .. key .. " must be true or false, got " .. type(v) .. " " .. show(v)) end
      if e[1] == INT then v = math.tointeger(v) end
      if e[3] and (v < e[3] or v > e[4]) then
        fail(pre .. string.format("%s=%s is out of range [%s, %s]", key, show(v), show(e[3]), show(e[4])))
      end
      r[key] = v
    end
  end
  return r, pre
end

-- Shapes: {c, h, w} for an image, {c} for a flat vector; nil when unknown (the dataset is not one Lua knows).
local function shape_str(s)
  if #s == 1 then return tostring(s[1]) end
  return s[1] .. "x" .. s[2] .. "x" .. s[3]
end

local function infer(r, pre, x, st, path, base)
  local function image()
    if x and #x ~= 3 then fail(pre .. "needs an image input (channels x height x width), got " .. x[1] .. " flat features") end
  end
  local k = r.kind
  if k == "conv" then
    image()
    if not x then return nil end
    local hp, wp = x[2] + 2 * r.pad, x[3] + 2 * r.pad
    if r.k > hp or r.k > wp then
      fail(pre .. string.format("k=%d is larger than the %dx%d input", r.k, x[2], x[3]) ..
        (r.pad > 0 and (" padded by " .. r.pad) or ""))
    end
    return { r.out, (hp - r.k) // r.stride + 1, (wp - r.k) // r.stride + 1 }
  elseif k == "bn" then image(); return x
  elseif k == "relu" or k == "scale" then return x
  elseif k == "maxpool" or k == "avgpool" then
    image()
    if not x then return nil end
    if r.k > x[2] or r.k > x[3] then fail(pre .. string.format("k=%d is larger than the %dx%d input", r.k, x[2], x[3])) end
    return { x[1], (x[2] - r.k) // r.stride + 1, (x[3] - r.k) // r.stride + 1 }
  elseif k == "global_avgpool" or k == "global_maxpool" then image(); return x and { x[1] }
  elseif k == "flatten" then
    if x and #x ~= 3 then fail(pre .. "the input is already flat (" .. x[1] .. " features)") end
    return x and { x[1] * x[2] * x[3] }
  elseif k == "linear" then
    if x and #x ~= 1 then
      fail(pre .. "needs a flat input, got " .. shape_str(x) .. " (put a flatten or a global pool before it)")
    end
    return { r.out }
  end
  error("infer: kind " .. k)
end

-- A list of layers may hold lists of layers (what a helper function returns: { {"conv", ...}, {"bn"} }); they are
-- spliced in place, so paths count the layers after splicing.
local function splice(list, out)
  for _, l in ipairs(list) do
    if type(l) == "table" and type(l[1]) == "table" then splice(l, out) else out[#out + 1] = l end
  end
  return out
end

resolve_list = function(list, path, base, x, st, key, where_pre)
  if type(list) ~= "table" then fail(where_pre .. "'" .. key .. "' must be a list of layers, got " .. type(list)) end
  for k in pairs(list) do
    if math.type(k) ~= "integer" or k < 1 or k > #list then
      fail(where_pre .. "'" .. key .. "' must be a list of layers (found the key " .. show(k) .. ")")
    end
  end
  list = splice(list, {})
  local out = {}
  for i, l in ipairs(list) do
    local p, b = path .. "[" .. i .. "]", (base == "" and "" or base .. ".") .. key .. "." .. (i - 1)
    local r, pre = resolve_layer(l, p, b, st)
    if r.kind == "residual" then
      if type(l.body) ~= "table" or #splice(l.body, {}) == 0 then fail(pre .. "'body' must be a non-empty list of layers") end
      local y
      r.body, y = resolve_list(l.body, p .. ".body", b, x, st, "body", pre)
      local s
      r.shortcut, s = resolve_list(l.shortcut or {}, p .. ".shortcut", b, x, st, "shortcut", pre)
      if y and s and shape_str(y) ~= shape_str(s) then
        fail(pre .. "the body gives " .. shape_str(y) .. " but the shortcut gives " .. shape_str(s) .. " (they are added)")
      end
      x = y
    else
      x = infer(r, pre, x, st, p, b)
    end
    out[i] = r
  end
  return out, x
end

-- Presets, written in the language. `w` is the experiment's width (64 = the published network's channels).
local presets = {}
M.presets = presets
M.preset_names = { "mlp", "cnn", "resnet9", "resnet18", "resnet20", "vgg11" }
M.preset_doc = {
  mlp = "flatten, 512-256 ReLU, linear (width does not apply)",
  cnn = "3 conv-BN-ReLU blocks (32-64-128) with 2 max pools, global average pool, linear (width does not apply)",
  resnet9 = "Page's ResNet-9 (DAWNBench): prep + 3 stages with 2 residual blocks, width w-2w-4w-8w, global max pool, linear, x0.125",
  resnet18 = "CIFAR ResNet-18 (3x3 stem, no stem pool, basic blocks 2-2-2-2 at w-2w-4w-8w, projection shortcuts), 11,173,962 params at width 64 and 10 classes",
  resnet20 = "He et al. 2016 CIFAR ResNet-20 (3 stages of 3 basic blocks at w/4-w/2-w, option-B projection shortcuts)",
  vgg11 = "VGG-11 with BN for CIFAR (conv w,M,2w,M,4w,4w,M,8w,8w,M,8w,8w,M; one linear classifier)",
}

local function L(kind, t) t = t or {}; t[1] = kind; return t end

-- conv3x3 (no bias) -> BN -> ReLU named <p>.conv, <p>.bn, <p>.relu
local function conv_bn(p, out)
  return L("conv", { name = p .. ".conv", out = out, k = 3, pad = 1, bias = false }), L("bn", { name = p .. ".bn" }),
    L("relu", { name = p .. ".relu" })
end
local function append(t, ...) for _, v in ipairs({ ... }) do t[#t + 1] = v end return t end

function presets.mlp(_, classes)
  return { name = "mlp", layers = {
    L("flatten", { name = "flatten" }), L("linear", { name = "fc1", out = 512 }), L("relu", { name = "relu1" }),
    L("linear", { name = "fc2", out = 256 }), L("relu", { name = "relu2" }), L("linear", { name = "fc3", out = classes }) } }
end

function presets.cnn(_, classes)
  local t = {}
  append(t, conv_bn("layer1", 32)); append(t, L("maxpool", { name = "layer1.pool" }))
  append(t, conv_bn("layer2", 64)); append(t, L("maxpool", { name = "layer2.pool" }))
  append(t, conv_bn("layer3", 128))
  append(t, L("global_avgpool", { name = "gap" }), L("linear", { name = "fc", out = classes }))
  return { name = "cnn", layers = t }
end

function presets.resnet9(w, classes)
  local t = {}
  local function res(p, c)
    local body = {}
    append(body, conv_bn(p .. ".res1", c)); append(body, conv_bn(p .. ".res2", c))
    return L("residual", { name = p .. ".add", body = body })
  end
  append(t, conv_bn("prep", w))
  append(t, conv_bn("layer1", 2 * w)); append(t, L("maxpool", { name = "layer1.pool" }), res("layer1", 2 * w))
  append(t, conv_bn("layer2", 4 * w)); append(t, L("maxpool", { name = "layer2.pool" }))
  append(t, conv_bn("layer3", 8 * w)); append(t, L("maxpool", { name = "layer3.pool" }), res("layer3", 8 * w))
  append(t, L("global_maxpool", { name = "gmp" }), L("linear", { name = "fc", out = classes, bias = false }),
    L("scale", { name = "scale", by = 0.125 }))
  return { name = "resnet9", layers = t }
end

-- A basic block (two 3x3 convs) as the residual named p, then its ReLU; a 1x1 conv + BN projects the
-- shortcut when the shape changes (option B of He et al. 2016).
local function basic_block(t, p, cin, cout, stride)
  local body = {
    L("conv", { name = p .. ".conv1", out = cout, k = 3, stride = stride, pad = 1, bias = false }),
    L("bn", { name = p .. ".bn1" }), L("relu", { name = p .. ".relu1" }),
    L("conv", { name = p .. ".conv2", out = cout, k = 3, pad = 1, bias = false }), L("bn", { name = p .. ".bn2" }) }
  local shortcut = {}
  if stride ~= 1 or cin ~= cout then
    shortcut = { L("conv", { name = p .. ".shortcut.0", out = cout, k = 1, stride = stride, pad = 0, bias = false }),
                 L("bn", { name = p .. ".shortcut.1" }) }
  end
  append(t, L("residual", { name = p, body = body, shortcut = shortcut }), L("relu", { name = p .. ".relu2" }))
end

local function resnet(name, widths, blocks, classes)
  local t = { L("conv", { name = "conv1", out = widths[1], k = 3, pad = 1, bias = false }), L("bn", { name = "bn1" }),
              L("relu", { name = "relu1" }) }
  local cin = widths[1]
  for s, c in ipairs(widths) do
    for b = 1, blocks[s] do
      basic_block(t, "layer" .. s .. "." .. (b - 1), cin, c, (s > 1 and b == 1) and 2 or 1)
      cin = c
    end
  end
  append(t, L("global_avgpool", { name = "pool" }), L("linear", { name = "fc", out = classes }))
  return { name = name, layers = t }
end

function presets.resnet18(w, classes) return resnet("resnet18", { w, 2 * w, 4 * w, 8 * w }, { 2, 2, 2, 2 }, classes) end

function presets.resnet20(w, classes)
  if w % 4 ~= 0 then fail("model \"resnet20\": width must be a multiple of 4 (its stages are width/4, width/2, width), got " .. w) end
  return resnet("resnet20", { w // 4, w // 2, w }, { 3, 3, 3 }, classes)
end

function presets.vgg11(w, classes)
  local t, i = {}, 0
  local function add(kind, keys) keys.name = "features." .. i; t[#t + 1] = L(kind, keys); i = i + 1 end
  for _, c in ipairs({ 1, "M", 2, "M", 4, 4, "M", 8, 8, "M", 8, 8, "M" }) do
    if c == "M" then add("maxpool", {})
    else add("conv", { out = c * w, k = 3, pad = 1 }); add("bn", {}); add("relu", {}) end
  end
  append(t, L("flatten", { name = "flatten" }), L("linear", { name = "classifier", out = classes }))
  return { name = "vgg11", layers = t }
end

-- model: a preset name or a table; width: the experiment's width; dataset: a name (shapes checked when known)
-- or { c, h, w, classes = k }. Returns the resolved network.
function M.resolve(model, width, dataset)
  local shape = type(dataset) == "table" and dataset or M.datasets[dataset]
  local classes = shape and shape.classes
  local net
  if type(model) == "string" then
    local p = presets[model]
    if not p then
      local s = require("swap.config").suggest(model, M.preset_names)
      fail("model: unknown preset '" .. model .. "'" .. (s and (" (did you mean '" .. s .. "'?)") or "") ..
        "; presets: " .. table.concat(M.preset_names, ", ") .. ", or a table { name = ..., layers = { ... } }")
    end
    net = p(width, classes or 10)
  elseif type(model) == "table" then
    net = model
  else
    fail("model: expected a preset name or a table { name = ..., layers = { ... } }, got " .. type(model))
  end
  for k in pairs(net) do
    if k ~= "name" and k ~= "layers" then
      fail("model: unknown key " .. show(k) .. " (a network is { name = ..., layers = { ... } })")
    end
  end
  local name = net.name == nil and "custom" or net.name
  if not name_ok(name) then fail("model.name: expected 1-48 characters of A-Z a-z 0-9 _ . (got " .. show(name) .. ")") end
  if type(net.layers) ~= "table" or #net.layers == 0 then fail("model.layers: expected a non-empty list of layers") end
  local st = { names = {} }
  local x = shape and { shape[1], shape[2], shape[3] } or nil
  local ok, layers, out = pcall(resolve_list, net.layers, "model.layers", "", x, st, "layers", "model: ")
  if not ok then
    if type(model) == "string" then fail("model = \"" .. model .. "\" (width " .. tostring(width) .. "): " .. layers) end
    error(layers, 0)
  end
  if out and classes and (#out ~= 1 or out[1] ~= classes) then
    fail(string.format("model.layers[%d]: %s: the last layer's output is %s, but the loss needs %d outputs (one per class)",
      #layers, layers[#layers].kind, shape_str(out), classes))
  end
  return { name = name, layers = layers }
end

-- JSON text of a resolved network (keys in a fixed order: kind, name, then the kind's keys).
local function json_str(s) return '"' .. s:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"' end
local function json_num(v)
  if math.type(v) == "integer" then return tostring(v) end
  for prec = 15, 17 do
    local s = string.format("%." .. prec .. "g", v)
    if tonumber(s) == v then return s end
  end
  return string.format("%.17g", v)
end
local function layers_json(list)
  local parts = {}
  for _, r in ipairs(list) do
    local f = { '"kind":' .. json_str(r.kind), '"name":' .. json_str(r.name) }
    for _, key in ipairs(M.kinds[r.kind].order or {}) do
      local v = r[key]
      local txt
      if type(v) == "table" then txt = layers_json(v)
      elseif type(v) == "boolean" then txt = tostring(v)
      else txt = json_num(v) end
      f[#f + 1] = json_str(key) .. ":" .. txt
    end
    parts[#parts + 1] = "{" .. table.concat(f, ",") .. "}"
  end
  return "[" .. table.concat(parts, ",") .. "]"
end
function M.json(net) return '{"name":' .. json_str(net.name) .. ',"layers":' .. layers_json(net.layers) .. "}" end

return M
