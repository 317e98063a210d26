-- Shared by the Lua tests: a check that records failures and keeps going, a scratch directory, and the
-- summary line + exit status. Usage: local T = dofile(<this file>).new("test_x.lua")
local M = {}

function M.new(name)
  local T = { checks = 0, failures = 0, name = name }
  function T.check(cond, msg)
    T.checks = T.checks + 1
    if not cond then
      T.failures = T.failures + 1
      io.stderr:write("FAIL line " .. debug.getinfo(2, "l").currentline .. ": " .. msg .. "\n")
    end
  end
  -- a fresh directory under $SWAP_TEST_TMP (or /tmp), created
  function T.tmpdir(stem)
    local dir = (os.getenv("SWAP_TEST_TMP") or "/tmp") .. "/" .. stem .. "." .. tostring(os.time()) .. math.random(1e6)
    os.execute("mkdir -p '" .. dir .. "'")
    return dir
  end
  function T.finish()
    print(string.format("%s: %d checks, %d failures", T.name, T.checks, T.failures))
    os.exit(T.failures == 0 and 0 or 1)
  end
  return T
end

return M
