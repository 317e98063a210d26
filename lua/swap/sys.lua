-- Running commands and writing files for the Lua tools: every command goes through M.exec (no shell
-- interpretation; tests replace M.exec to stand in for Slurm), every file is written through M.write_atomic.
local shell = require "swap.shell"

local M = {}

-- Run argv (no shell interpretation: every word is quoted); returns exit code and combined output.
function M.exec(argv)
  local p = io.popen(shell.join(argv) .. " 2>&1", "r")
  local out = p:read("a")
  local ok, how, code = p:close()
  if how == "signal" then code = 128 + code end
  if ok then code = 0 end
  return code, out
end

local function fail(msg) error(msg, 0) end

function M.cwd()
  local p = io.popen("pwd -P")
  local d = p:read("l")
  p:close()
  return d
end

-- Absolute, with "." and ".." components resolved textually.
function M.abspath(path, base)
  if path:sub(1, 1) ~= "/" then path = (base or M.cwd()) .. "/" .. path end
  local parts = {}
  for part in path:gmatch("[^/]+") do
    if part == ".." then
      if #parts > 0 then parts[#parts] = nil end
    elseif part ~= "." then
      parts[#parts + 1] = part
    end
  end
  return "/" .. table.concat(parts, "/")
end

function M.exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

function M.mkdir_p(dir)
  local code, out = M.exec({ "mkdir", "-p", "--", dir })
  if code ~= 0 then fail(dir .. ": cannot create directory: " .. out:gsub("\n$", "")) end
end

-- Write via a temporary name in the same directory and rename, so readers never see a partial file.
function M.write_atomic(path, text, mode)
  local tmp = path .. ".tmp." .. tostring(os.time()) .. "." .. tostring(math.random(1, 1e9))
  local f, err = io.open(tmp, "wb")
  if not f then fail(path .. ": cannot write (" .. tostring(err) .. ")") end
  f:write(text)
  f:flush()
  f:close()
  if mode then M.exec({ "chmod", mode, "--", tmp }) end
  local ok, rerr = os.rename(tmp, path)
  if not ok then
    os.remove(tmp)
    fail(path .. ": cannot rename into place (" .. tostring(rerr) .. ")")
  end
end

function M.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

return M
