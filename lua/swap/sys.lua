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

-- The only way the Lua tools write a file: a temporary name in the same directory, every write, the flush and
-- the close checked (a full disk shows at one of them, and the temporary is removed), fsync (`sync FILE`), then
-- rename, so readers never see a partial file and a failed write leaves the previous file as it was.
function M.write_atomic(path, text, mode)
  local tmp = path .. ".tmp." .. tostring(os.time()) .. "." .. tostring(math.random(1, 1e9))
  local f, err = io.open(tmp, "wb")
  if not f then fail(path .. ": cannot write (" .. tostring(err) .. ")") end
  local ok, werr = f:write(text)
  if ok then ok, werr = f:flush() end
  local cok, cerr = f:close()
  if ok and not cok then ok, werr = nil, cerr end
  local function undo(what, e)
    os.remove(tmp)
    fail(path .. ": cannot " .. what .. " (" .. tostring(e):gsub("\n.*", "") .. ")")
  end
  if not ok then undo("write", werr) end
  if mode then
    local code, out = M.exec({ "chmod", mode, "--", tmp })
    if code ~= 0 then undo("set mode " .. mode, out) end
  end
  local code, out = M.exec({ "sync", "--", tmp })
  if code ~= 0 then undo("write (sync)", out) end
  local rok, rerr = os.rename(tmp, path)
  if not rok then undo("rename into place", rerr) end
end

function M.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

-- An exclusive lock on `path` (created if absent), held by a child process until this process ends or calls
-- the returned release(): flock(1) keeps it while the child's stdin, a pipe from us, stays open and this
-- process lives (checked every second: a command we started may hold the pipe open after we die), so the lock
-- goes when we do, even by kill -9. The lock file holds the holder's host and PID, for the message of
-- whoever finds it taken. Returns release on success, or nil and the holder's line.
function M.lock(path)
  local status = os.tmpname()
  local body = 'printf "%s pid %s since %s\\n" "$(uname -n)" "$0" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" 2>/dev/null > "$1"; ' ..
    'echo held > "$2" && while kill -0 "$0" 2>/dev/null; do read -r -t 1 _; [ $? -gt 128 ] || exit 0; done'
  local cmd = "p=$PPID; flock -n -E 75 " .. shell.quote(path) .. " bash -c " .. shell.quote(body) .. ' "$p" ' ..
    shell.quote(path) .. " " .. shell.quote(status) .. ' || echo "busy $?" > ' .. shell.quote(status)
  local h = io.popen(cmd, "w")
  local state
  for _ = 1, 1000 do -- the child answers within milliseconds; 10 s is a hung file system
    state = M.read(status) or ""
    if state ~= "" then break end
    os.execute("sleep 0.01")
  end
  os.remove(status)
  if state:match("^held") then
    return function() if h then h:close(); h = nil end end
  end
  h:close()
  if state:match("^busy 75") then
    return nil, ((M.read(path) or ""):gsub("%s+$", "") ~= "" and (M.read(path):gsub("%s+$", "")) or "another process")
  end
  fail(path .. ": cannot take the lock (" .. (state ~= "" and state:gsub("%s+$", "") or "no answer from flock") .. ")")
end

return M
