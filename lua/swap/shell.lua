-- Shell quoting and validation of values that end up in generated batch scripts.
-- Everything interpolated into a shell command goes through quote(); values in "#SBATCH" lines (which
-- sbatch parses itself, without shell quoting) must instead match a strict character set.
local M = {}

-- Single-quote a word for POSIX sh: 'it'\''s' ; newlines, $, `, " are literal inside single quotes.
function M.quote(s)
  s = tostring(s)
  if s:find("%z") then error("cannot pass a NUL byte in a shell word", 0) end
  if s ~= "" and not s:find("[^%w%%+,./:=@_%-]") then return s end -- plainly safe: leave as is for readability
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

function M.join(argv)
  local out = {}
  for i, w in ipairs(argv) do out[i] = M.quote(w) end
  return table.concat(out, " ")
end

-- Characters allowed in #SBATCH option values (no whitespace, quotes, backslash, $, `, ;, #, control chars).
local SBATCH_SAFE = "^[%w%%&*+,./:=@_|%-]+$"
function M.sbatch_safe(s) return type(s) == "string" and s:match(SBATCH_SAFE) ~= nil end

-- Raise "<what>: <value> ..." unless the value may appear in an #SBATCH line.
function M.check_sbatch(what, s)
  if not M.sbatch_safe(s) then
    error(string.format("%s: %s is not allowed in an #SBATCH line (allowed characters: letters, digits, %% & * + , . / : = @ _ | -)",
      what, (string.format("%q", tostring(s)):gsub("\\\n", "\\n"))), 0)
  end
  return s
end

-- Slurm time limit formats: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS, or UNLIMITED.
function M.is_time(s)
  if type(s) ~= "string" then return false end
  if s == "UNLIMITED" or s == "infinite" then return true end
  return s:match("^%d+$") or s:match("^%d+:%d%d$") or s:match("^%d+:%d%d:%d%d$") or s:match("^%d+%-%d+$")
    or s:match("^%d+%-%d+:%d%d$") or s:match("^%d+%-%d+:%d%d:%d%d$")
end

-- Memory: a number with an optional K/M/G/T suffix.
function M.is_mem(s)
  return type(s) == "string" and s:match("^%d+[KMGT]?$") ~= nil or math.type(s) == "integer" and s > 0
end

return M
