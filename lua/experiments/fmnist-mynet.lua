-- SWAP on Fashion-MNIST with a network written in the experiment (docs/networks.md): a small residual network
-- with a strided block and a projection shortcut, average pooling and a linear classifier. Everything else is
-- the demo's (fmnist.lua).
local e = import("fmnist.lua")
e.name = "fmnist-mynet"

-- conv -> BN -> ReLU; a helper returning a list of layers is spliced where it is used
local function cbr(out, stride)
  return { { "conv", out = out, k = 3, stride = stride or 1, pad = 1, bias = false }, { "bn" }, { "relu" } }
end

e.model = {
  name = "mynet",
  layers = {
    cbr(32),                                              -- 32x28x28
    { "residual",                                         -- 64x14x14: a strided block, projected shortcut
      body = { cbr(64, 2), { "conv", out = 64, k = 3, pad = 1, bias = false }, { "bn" } },
      shortcut = { { "conv", out = 64, k = 1, stride = 2, pad = 0, bias = false }, { "bn" } } },
    { "relu" },
    { "avgpool", k = 2 },                                 -- 64x7x7
    { "global_avgpool" },                                 -- 64
    { "linear", out = 10 },
  },
}
return e
