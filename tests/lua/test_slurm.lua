-- swap-slurm generator without a cluster: #SBATCH lines, dependencies, array bounds, profiles, sweeps,
-- quoting of hostile values (scripts are run by bash with stand-in executables), preemption forwarding,
-- submit/status/cancel/collect against a scripted fake Slurm.
local src = os.getenv("SWAP_SOURCE_DIR") or "."
package.path = src .. "/lua/?.lua;" .. package.path
local slurm = require "swap.slurm"
local sys = require "swap.sys" -- sys.exec: replaced below to stand in for Slurm
local shell = require "swap.shell"
local profile = require "swap.profile"
local sweep = require "swap.sweep"
local cjson = require "cjson"

local T = dofile(src .. "/tests/lua/testlib.lua").new("test_slurm.lua")
local check = T.check
local function has(text, want) return text:find(want, 1, true) ~= nil end
local function check_has(text, want, label) check(has(text, want), label .. ": lacks '" .. want .. "' in:\n" .. text) end
local function check_err(fn, label, ...)
  local ok, e = pcall(fn)
  check(not ok, label .. ": expected an error")
  if ok then return end
  e = tostring(e)
  check(not e:find("\n"), label .. ": error should be one line: " .. e)
  for _, w in ipairs({ ... }) do check(has(e, w), label .. ": error lacks '" .. w .. "': " .. e) end
end

local real_exec = sys.exec
local tmp = T.tmpdir("test_slurm_lua")
local function write(path, text, mode)
  -- a mode must be an octal string: a gsub result passed straight through would chmod the file to its count
  assert(mode == nil or type(mode) == "string", "write: mode must be a string like \"0755\"")
  real_exec({ "mkdir", "-p", path:match("^(.*)/") })
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  if mode then real_exec({ "chmod", mode, path }) end
  return path
end
local function sh(cmd) -- run a shell command line, return exit code and output
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("a")
  local _, _, code = p:close()
  return code, out
end
local function quiet() return { write = function() end } end
local function capture()
  local buf = {}
  return { write = function(_, s) buf[#buf + 1] = s end, text = function() return table.concat(buf) end }
end

-- Stand-in executables: print their arguments one per line into $ARGS_OUT, and make the outputs the
-- real ones would (so "skip what exists" can be exercised).
local bin = tmp .. "/bin"
local stand_in = [[#!/bin/bash
for a in "$@"; do printf '%s\n' "$a"; done > "${ARGS_OUT:-/dev/null}"
exit 0
]]
for _, b in ipairs({ "swap-train", "swap-refine", "swap-average" }) do write(bin .. "/" .. b, stand_in, "0755") end
-- verify accepts files whose content is "ok"; like the real one it takes many files, prints "FILE: OK ..." for
-- each good one, and logs each call (its file count) in bin/verify-calls.log
write(bin .. "/swap-inspect", [[#!/bin/bash
[ "$1" = verify ] || exit 2
shift
echo "$#" >> "$(dirname "$0")/verify-calls.log"
bad=0
for f in "$@"; do
  if [ "$(cat "$f" 2>/dev/null)" = ok ]; then echo "$f: OK stand-in"; else echo "$f: not a checkpoint"; bad=1; fi
done
exit $bad
]], "0755")

local function make_ctx(exp_text, opts)
  opts = opts or {}
  local dir = tmp .. "/" .. (opts.dir or "exp")
  local exp = write(dir .. "/exp.lua", exp_text)
  return slurm.load({ experiment = exp, overrides = opts.overrides, profile = opts.profile, bin_dir = bin,
    root = src, cwd = opts.cwd or dir })
end

local BASE = [[return { name = "fm", phase1 = { ranks = 2, batch = 2048 }, phase2 = { workers = 4 } }]]

-- #SBATCH lines and commands --------------------------------------------------------------------------------
do
  local ctx = make_ctx(BASE)
  local pl = ctx.pipelines[1]
  check(#ctx.pipelines == 1 and pl.name == "fm", "single pipeline")
  local j1 = slurm.job(ctx, pl, 1)
  local s1 = slurm.script(ctx, pl, j1)
  check_has(s1, "#!/bin/bash\n", "shebang")
  check_has(s1, "#SBATCH --job-name=swap1:fm\n", "job name")
  check_has(s1, "#SBATCH --ntasks=2\n", "phase1 ntasks = ranks")
  check_has(s1, "#SBATCH --signal=B:USR1@60\n", "signal from local profile")
  check_has(s1, "#SBATCH --requeue\n", "requeue")
  check_has(s1, "#SBATCH --time=02:00:00\n", "time")
  check_has(s1, "#SBATCH --cpus-per-task=1\n", "cpus")
  check_has(s1, "#SBATCH --output=" .. tmp .. "/exp/results/fm/slurm/phase1-%j.out\n", "log path")
  check_has(s1, "swap_run srun --mpi=pmi2 " .. bin .. "/swap-train " .. tmp .. "/exp/results/fm/slurm/experiment.lua --set phase1.threads=1\n",
    "phase1 command via the MPI launcher on the snapshot")
  check(not has(s1, "--array"), "phase 1 is no array")
  local j2 = slurm.job(ctx, pl, 2)
  local s2 = slurm.script(ctx, pl, j2)
  check_has(s2, "#SBATCH --array=0-3\n", "array 0-(W-1) without throttle when parallel = 0")
  check_has(s2, "#SBATCH --ntasks=1\n", "one task per worker")
  check_has(s2, "/swap-refine " .. tmp .. "/exp/results/fm/slurm/experiment.lua --worker \"$SLURM_ARRAY_TASK_ID\" --set phase2.threads=1\n",
    "worker index from the array")
  check(not has(s2, "srun"), "single-rank workers run without a launcher")
  local s3 = slurm.script(ctx, pl, slurm.job(ctx, pl, 3))
  check_has(s3, "#SBATCH --time=00:30:00\n", "phase3 time from the profile's phase3 table")
  check_has(s3, "swap_run " .. bin .. "/swap-average ", "phase3 command")
  -- each #SBATCH line must precede the first command (sbatch stops reading them there)
  local seen_cmd = false
  for line in s1:gmatch("[^\n]+") do
    if line:match("^#SBATCH") then check(not seen_cmd, "#SBATCH after a command: " .. line)
    elseif not line:match("^#") then seen_cmd = true end
  end
  check(sh("bash -n " .. shell.quote(write(tmp .. "/s1.sh", s1))) == 0, "phase1 script parses")

  -- throttle
  ctx = make_ctx(BASE, { overrides = { "phase2.parallel=2" } })
  check_has(slurm.script(ctx, ctx.pipelines[1], slurm.job(ctx, ctx.pipelines[1], 2)), "#SBATCH --array=0-3%2\n", "throttle %P")
  ctx = make_ctx(BASE, { overrides = { "phase2.parallel=9" } })
  check(slurm.job(ctx, ctx.pipelines[1], 2).array == "0-3", "no throttle when P >= W")
  check(slurm.array_spec({ 0, 2, 3, 4, 7 }, 2) == "0,2-4,7%2", "array ranges: " .. slurm.array_spec({ 0, 2, 3, 4, 7 }, 2))
  check(slurm.array_spec({ 5 }, 0) == "5", "single index")

  -- multi-rank workers use the launcher; wash/papa is one W-rank MPI job
  ctx = make_ctx(BASE, { overrides = { "phase2.ranks_per_worker=2" } })
  local j = slurm.job(ctx, ctx.pipelines[1], 2)
  check(j.ntasks == 2 and j.argv[1] == "srun" and j.array == "0-3", "phase2.ranks_per_worker > 1 -> k tasks per array task, launcher")
  check_has(slurm.script(ctx, ctx.pipelines[1], j), "#SBATCH --ntasks=2\n", "worker group ntasks")
  ctx = make_ctx(BASE, { overrides = { "phase2.mode=wash" } })
  j = slurm.job(ctx, ctx.pipelines[1], 2)
  local sw = slurm.script(ctx, ctx.pipelines[1], j)
  check(j.array == nil and j.ntasks == 4, "wash: no array, W tasks")
  check_has(sw, "#SBATCH --ntasks=4\n", "wash ntasks")
  check(not has(sw, "--array"), "wash has no array line")
  check_has(sw, "swap_run srun --mpi=pmi2 " .. bin .. "/swap-refine " .. ctx.snapshot .. " --mode wash", "wash command")
  check(not pcall(make_ctx, BASE, { overrides = { "phase2.mode=papa", "phase2.ranks_per_worker=2" } }),
    "papa with worker groups is refused")

  -- threads = 0 becomes the profile's cpus_per_task (else the executables would use every core of the node)
  ctx = make_ctx(BASE, { profile = "example-site" })
  check_has(slurm.script(ctx, ctx.pipelines[1], slurm.job(ctx, ctx.pipelines[1], 1)), "--set phase1.threads=8\n", "phase1 threads")
  check_has(slurm.script(ctx, ctx.pipelines[1], slurm.job(ctx, ctx.pipelines[1], 3)), "--set threads=16\n", "phase3 threads")
  ctx = make_ctx(BASE, { profile = "example-site", overrides = { "phase2.threads=3" } })
  check(not has(slurm.script(ctx, ctx.pipelines[1], slurm.job(ctx, ctx.pipelines[1], 2)), "threads=8"), "explicit threads kept")

  -- user overrides reach every executable
  ctx = make_ctx(BASE, { overrides = { "phase1.lr=0.4", "augment.flip=true" } })
  for phase = 1, 3 do
    local s = slurm.script(ctx, ctx.pipelines[1], slurm.job(ctx, ctx.pipelines[1], phase))
    check_has(s, "--set phase1.lr=0.4 --set augment.flip=true --set " .. (phase == 3 and "threads" or ("phase" .. phase .. ".threads")) ..
      "=1\n", "overrides passed to phase " .. phase)
  end
end

-- Dependencies ------------------------------------------------------------------------------------------------
do
  local ctx = make_ctx(BASE)
  local pl = ctx.pipelines[1]
  local d2, d3 = slurm.dependencies(pl, "11", "12")
  check(d2 == "afterok:11" and d3 == "afterok:12", "afterok chain: " .. tostring(d2) .. " " .. tostring(d3))
  d2, d3 = slurm.dependencies(pl, nil, "12")
  check(d2 == nil and d3 == "afterok:12", "phase 1 skipped: array has no dependency")
  d2, d3 = slurm.dependencies(pl, nil, nil)
  check(d2 == nil and d3 == nil, "only phase 3 left: no dependency")
  ctx = make_ctx(BASE, { overrides = { "phase3.min_workers=2" } })
  d2, d3 = slurm.dependencies(ctx.pipelines[1], "11", "12")
  check(d3 == "afterany:12,afterok:11", "min_workers: phase 3 after the whole array, but only if phase 1 succeeded: " .. d3)
  local argv = slurm.sbatch_argv(ctx, pl, slurm.job(ctx, pl, 2), "afterok:11")
  local joined = table.concat(argv, " ")
  check_has(joined, "--dependency=afterok:11 --kill-on-invalid-dep=yes", "dependents die when the dependency fails")
  check(argv[1] == "sbatch" and argv[2] == "--parsable", "sbatch --parsable")
  check_has(joined, "--chdir=" .. ctx.cwd, "absolute chdir")
end

-- Profiles -----------------------------------------------------------------------------------------------------
do
  local site = profile.load("example-site", src)
  check(site.phase[1].partition == "cpu" and site.phase[2].partition == "cpu-short", "per-phase partition")
  check(site.phase[1].nodes == 2 and site.phase[3].cpus_per_task == 16 and site.phase[2].cpus_per_task == 8, "per-phase values")
  check(#site.phase[2].sbatch == 3 and site.phase[2].sbatch[3] == "--nice=10", "extra #SBATCH lines merged")
  local ctx = make_ctx(BASE, { profile = "example-site" })
  local s1 = slurm.script(ctx, ctx.pipelines[1], slurm.job(ctx, ctx.pipelines[1], 1))
  for _, want in ipairs({ "#SBATCH --partition=cpu\n", "#SBATCH --account=proj1234\n", "#SBATCH --qos=normal\n",
    "#SBATCH --time=12:00:00\n", "#SBATCH --nodes=2\n", "#SBATCH --cpus-per-task=8\n", "#SBATCH --mem-per-cpu=3G\n",
    "#SBATCH --signal=B:USR1@300\n", "#SBATCH --mail-type=FAIL\n", "#SBATCH --exclusive\n",
    "module load gcc/12.2.0 mpich/4.0.2 hdf5/1.12.2 openblas/0.3.21 || exit 1\n", ". /etc/profile.d/modules.sh || exit 1\n",
    "export OMP_PLACES=cores\n", "export OMP_PROC_BIND=close\n", "SWAP_MAX_REQUEUES=20\n" }) do
    check_has(s1, want, "example-site phase1")
  end
  local prof_dir = tmp .. "/profiles"
  local function prof(text) return write(prof_dir .. "/p" .. math.random(1e9) .. ".lua", text) end
  check_err(function() profile.load(prof("return { partitoin = 'x' }"), src) end, "profile typo",
    "unknown key 'partitoin'", "did you mean 'partition'?")
  check_err(function() profile.load(prof("return { phase2 = { tiem = '1:00' } }"), src) end, "phase key typo",
    "unknown key 'phase2.tiem'", "did you mean 'time'?")
  check_err(function() profile.load(prof("return { partition = 'a b' }"), src) end, "space in partition", "'partition'")
  check_err(function() profile.load(prof("return { account = 'x\\n#SBATCH --uid=0' }"), src) end, "newline in account", "'account'")
  check_err(function() profile.load(prof("return { time = 'one hour' }"), src) end, "bad time", "'time'", "Slurm time limit")
  check_err(function() profile.load(prof("return { mem = '8 GB' }"), src) end, "bad mem", "'mem'")
  check_err(function() profile.load(prof("return { mpi = 'srun; rm -rf /' }"), src) end, "mpi injection", "'mpi'")
  check_err(function() profile.load(prof("return { sbatch = { '--comment=$(id)' } }"), src) end, "sbatch line", "'sbatch'")
  check_err(function() profile.load(prof("return { env = { ['A B'] = 'x' } }"), src) end, "env name", "'env'")
  check_err(function() profile.load(prof("return { signal_seconds = -1 }"), src) end, "signal", "'signal_seconds'")
  check_err(function() profile.load(prof("return { requeue = false, max_retries = 1 }"), src) end, "retries need requeue",
    "'max_retries'", "requeue = true")
  -- requeue = false must be said: Slurm requeues a job after a node failure unless told --no-requeue
  ctx = make_ctx(BASE, { profile = prof("return { requeue = false }") })
  local nq = slurm.script(ctx, ctx.pipelines[1], slurm.job(ctx, ctx.pipelines[1], 2))
  check_has(nq, "#SBATCH --no-requeue\n", "requeue = false")
  check(not has(nq, "#SBATCH --requeue"), "requeue = false: no --requeue")
  check_err(function() profile.load("no-such-site", src) end, "missing profile", "cannot open")
  check_err(function() profile.load(prof("return { "), src) end, "profile syntax", ".lua:1:")
  -- mpiexec launchers get the task count
  local p = prof("return { mpi = 'mpiexec' }")
  ctx = make_ctx(BASE, { profile = p })
  check_has(slurm.script(ctx, ctx.pipelines[1], slurm.job(ctx, ctx.pipelines[1], 1)), "swap_run mpiexec -n \"$SLURM_NTASKS\" ",
    "mpiexec -n")
  -- env values are quoted
  p = prof("return { env = { X = \"a'b $(id)\" } }")
  ctx = make_ctx(BASE, { profile = p })
  check_has(slurm.script(ctx, ctx.pipelines[1], slurm.job(ctx, ctx.pipelines[1], 1)), "export X='a'\\''b $(id)'\n", "env quoted")
end

-- Sweeps ---------------------------------------------------------------------------------------------------------
do
  local ctx = make_ctx([[return { name = "sw", sweep = { ["phase1.batch"] = {512, 1024, 2048, 4096} } }]], { dir = "sweep" })
  check(#ctx.pipelines == 4, "4 pipelines")
  local names = {}
  for i, pl in ipairs(ctx.pipelines) do names[i] = pl.name end
  check(table.concat(names, " ") == "sw/phase1.batch=512 sw/phase1.batch=1024 sw/phase1.batch=2048 sw/phase1.batch=4096",
    "pipeline names: " .. table.concat(names, " "))
  local pl = ctx.pipelines[2]
  check(pl.dir == tmp .. "/sweep/results/sw/phase1.batch=1024", "pipeline dir: " .. pl.dir)
  check(pl.flat["phase1.batch"] == 1024 and pl.flat.name == "sw/phase1.batch=1024", "pipeline config resolved")
  local s = slurm.script(ctx, pl, slurm.job(ctx, pl, 2))
  check_has(s, "--set phase1.batch=1024 --set name=sw/phase1.batch=1024 --set phase2.threads=1\n", "sweep overrides and name passed")
  check_has(s, "#SBATCH --job-name=swap2:sw/phase1.batch=1024\n", "job name per pipeline")
  check_has(s, "#SBATCH --output=" .. pl.dir .. "/slurm/phase2-%A_%a.out\n", "logs per pipeline")
  -- two keys: cartesian product, keys sorted, last varies fastest
  ctx = make_ctx([[return { name = "g", sweep = { ["phase1.lr"] = {0.1, 0.2}, ["augment.flip"] = {true, false} } }]], { dir = "grid" })
  names = {}
  for i, p in ipairs(ctx.pipelines) do names[i] = p.name end
  check(table.concat(names, " ") == "g/augment.flip=true,phase1.lr=0.1 g/augment.flip=true,phase1.lr=0.2 " ..
    "g/augment.flip=false,phase1.lr=0.1 g/augment.flip=false,phase1.lr=0.2", "grid names: " .. table.concat(names, " "))
  check(ctx.pipelines[3].flat["augment.flip"] == false and ctx.pipelines[3].flat["phase1.lr"] == 0.1, "grid values")
  -- a combination breaking a cross-field rule names its pipeline
  check_err(function() make_ctx([[return { name = "c", phase1 = { ranks = 3, batch = 3 }, sweep = { ["phase1.batch"] = {3, 4} } }]],
    { dir = "cross" }) end, "sweep cross check", "sweep pipeline 'c/phase1.batch=4'", "divisible by phase1.ranks (3)")
  check(#sweep.expand({}) == 1, "no sweep: one pipeline")
  -- plan writes every pipeline's scripts
  ctx = make_ctx([[return { name = "sw", sweep = { ["phase1.batch"] = {512, 1024} } }]], { dir = "sweep" })
  slurm.plan(ctx, quiet())
  for _, p in ipairs(ctx.pipelines) do
    for phase = 1, 3 do check(slurm.exists(p.dir .. "/slurm/phase" .. phase .. ".sbatch"), "plan wrote " .. p.dir .. " phase " .. phase) end
  end
  check(slurm.exists(ctx.snapshot), "plan wrote the experiment snapshot")
end

-- Hostile values: quoting round trip and scripts that cannot be injected -----------------------------------------
do
  local hostile = { "a b", "it's", "\"dq\"", "$(touch PWNED)", "`touch PWNED`", "line1\nline2", "back\\slash", "*", "-n",
    "';touch PWNED;'", "" }
  for _, h in ipairs(hostile) do
    local code, out = sh("printf '%s|' " .. shell.quote(h))
    check(code == 0 and out == h .. "|", "quote round trip " .. string.format("%q", h) .. " -> " .. out)
  end
  -- the experiment lives in a directory with a hostile name; the submit dir too
  local dir = "evil dir/it's $(touch PWNED) `touch PWNED`\nx"
  -- `env` as the MPI launcher: runs the program directly, so the scripts can run here
  local envprof = write(tmp .. "/profiles/env.lua", "return { mpi = 'env' }")
  local ctx = make_ctx(BASE, { dir = dir, profile = envprof, overrides = { "data_dir=/d/$(touch PWNED)/it's `x` \"q\"" } })
  slurm.write_scripts(ctx)
  local pl = ctx.pipelines[1]
  for phase = 1, 3 do
    local script = pl.dir .. "/slurm/phase" .. phase .. ".sbatch"
    local text = slurm.read(script)
    check(not has(text, "#SBATCH --output"), "unsafe log path is not written into an #SBATCH line")
    for line in text:gmatch("[^\n]*") do
      local value = line:match("^#SBATCH %-%-[%w-]+=(.*)$")
      if value then check(shell.sbatch_safe(value), "#SBATCH value safe: " .. line) end
    end
    local argfile = tmp .. "/args" .. phase
    os.remove(argfile)
    local code, out = sh("cd " .. shell.quote(tmp) .. " && ARGS_OUT=" .. shell.quote(argfile) ..
      " SLURM_ARRAY_TASK_ID=2 bash " .. shell.quote(script))
    check(code == 0, "phase " .. phase .. " script runs: " .. out)
    local args = slurm.read(argfile) or ""
    check_has(args, ctx.snapshot .. "\n", "experiment path arrives intact (phase " .. phase .. ")")
    check_has(args, "--set\ndata_dir=/d/$(touch PWNED)/it's `x` \"q\"\n", "override arrives intact (phase " .. phase .. ")")
    if phase == 2 then check_has(args, "--worker\n2\n", "worker index") end
  end
  check(sh("find " .. shell.quote(tmp) .. " -name PWNED | grep -q .") ~= 0, "nothing was injected (no PWNED file)")
  check_err(function() make_ctx([[return { name = "x$(touch PWNED)" }]], { dir = "hn" }) end, "hostile name", "'name'")
  check_err(function() make_ctx([[return { name = "a b" }]], { dir = "hn" }) end, "name with space", "'name'")
  check_err(function() make_ctx(BASE, { dir = "hn", overrides = { "name=../../etc" } }) end, "name override", "'..'")
  check_err(function() make_ctx(BASE, { dir = "hn", overrides = { "phase1.bogus=1" } }) end, "unknown override",
    "unknown key 'phase1.bogus'")
  check_err(function() shell.check_sbatch("x", "a\nb") end, "sbatch check", "not allowed in an #SBATCH line")
end

-- scontrol for the wrapper: `-o show job ID` answers JobState=$FAKE_STATE (RUNNING), anything else (requeue) is
-- logged in $ARGS_OUT.scontrol
local FAKE_SCONTROL = [[#!/bin/bash
if [ "$1" = -o ] && [ "$2" = show ]; then echo "JobId=$4 JobState=${FAKE_STATE:-RUNNING} Reason=None"; exit 0; fi
echo "$@" >> "$ARGS_OUT.scontrol"
]]

-- Preemption: USR1 to the batch shell reaches the program; exit 3 requeues --------------------------------------
do
  local pbin = tmp .. "/pbin"
  -- checkpoints on USR1/TERM: records the signal, exits 3
  write(pbin .. "/swap-train", [[#!/bin/bash
trap 'echo "got $SIG" >> "$ARGS_OUT.sig"; exit 3' USR1
SIG=USR1
echo started > "$ARGS_OUT.started"
for i in $(seq 1 100); do sleep 0.1; done
exit 0
]], "0755")
  for _, b in ipairs({ "swap-refine", "swap-average", "swap-inspect" }) do write(pbin .. "/" .. b, stand_in, "0755") end
  write(pbin .. "/scontrol", FAKE_SCONTROL, "0755")
  local exp = write(tmp .. "/pre/exp.lua", BASE)
  local ctx = slurm.load({ experiment = exp, bin_dir = pbin, root = src, cwd = tmp .. "/pre" })
  slurm.write_scripts(ctx)
  local script = ctx.pipelines[1].dir .. "/slurm/phase1.sbatch"
  -- run without srun: a profile whose launcher is env (a harmless prefix)
  local ptext = slurm.read(script):gsub("swap_run srun %-%-mpi=pmi2 ", "swap_run ")
  write(script, ptext)
  local af = tmp .. "/pre/args"
  local run = "cd " .. shell.quote(tmp) .. " && export ARGS_OUT=" .. shell.quote(af) .. " PATH=" .. shell.quote(pbin) ..
    ":$PATH; bash " .. shell.quote(script) .. " & pid=$!; " ..
    "for i in $(seq 1 50); do [ -e " .. shell.quote(af .. ".started") .. " ] && break; sleep 0.1; done; " ..
    "kill -USR1 $pid; wait $pid; echo rc=$?"
  local _, out = sh("SLURM_JOB_ID=777 SLURM_RESTART_COUNT=0 bash -c " .. shell.quote(run))
  check_has(out, "rc=0", "checkpointed job requeues itself and exits 0")
  check_has(slurm.read(af .. ".sig") or "", "got USR1", "USR1 forwarded to the program")
  check_has(slurm.read(af .. ".scontrol") or "", "requeue 777", "scontrol requeue $SLURM_JOB_ID")
  os.remove(af .. ".started"); os.remove(af .. ".scontrol")
  _, out = sh("SLURM_JOB_ID=777 SLURM_RESTART_COUNT=10 bash -c " .. shell.quote(run))
  check_has(out, "rc=3", "after max_requeues the job fails with 3")
  check(slurm.read(af .. ".scontrol") == nil, "no requeue beyond max_requeues")
  os.remove(af .. ".started")
  -- scancel sends TERM too: a cancelled job checkpoints and ends, it does not requeue itself (it did, so
  -- `swap-slurm cancel` and `submit --replace` could not stop a running phase)
  _, out = sh("SLURM_JOB_ID=777 SLURM_RESTART_COUNT=0 FAKE_STATE='COMPLETING Comment=swap-slurm-cancel' bash -c " .. shell.quote(run) .. " 2>&1")
  check_has(out, "rc=3", "a cancelled job exits with the program's code")
  check_has(out, "was cancelled; not requeueing", "and says why it does not requeue")
  check(slurm.read(af .. ".scontrol") == nil, "no requeue of a cancelled job")
  os.remove(af .. ".started")
  _, out = sh("unset SLURM_JOB_ID; bash -c " .. shell.quote(run))
  check_has(out, "rc=3", "outside Slurm exit 3 is passed through")
end

-- A failing program is retried (requeued) up to the profile's max_retries, then its exit code stands -------------
do
  local pbin = tmp .. "/rbin"
  write(pbin .. "/swap-train", "#!/bin/bash\necho boom >&2\nexit 1\n", "0755")
  for _, b in ipairs({ "swap-refine", "swap-average", "swap-inspect" }) do write(pbin .. "/" .. b, stand_in, "0755") end
  write(pbin .. "/scontrol", FAKE_SCONTROL, "0755")
  local prof = write(tmp .. "/retry/site.lua", "return { mpi = \"srun --mpi=pmi2\", max_retries = 2 }")
  local exp = write(tmp .. "/retry/exp.lua", (BASE:gsub("^return {", "return { profile = \"" .. prof .. "\",")))
  local ctx = slurm.load({ experiment = exp, bin_dir = pbin, root = src, cwd = tmp .. "/retry" })
  slurm.write_scripts(ctx)
  local script = ctx.pipelines[1].dir .. "/slurm/phase1.sbatch"
  write(script, (slurm.read(script):gsub("swap_run srun %-%-mpi=pmi2 ", "swap_run ")))
  check_has(slurm.read(script), "SWAP_MAX_RETRIES=2", "max_retries reaches the script")
  local af = tmp .. "/retry/args"
  local run = "export ARGS_OUT=" .. shell.quote(af) .. " PATH=" .. shell.quote(pbin) .. ":$PATH; bash " ..
    shell.quote(script) .. "; echo rc=$?"
  local _, out = sh("SLURM_JOB_ID=778 SLURM_RESTART_COUNT=1 bash -c " .. shell.quote(run) .. " 2>&1")
  check_has(out, "rc=0", "a failure within max_retries requeues the job")
  check_has(slurm.read(af .. ".scontrol") or "", "requeue 778", "retry: scontrol requeue $SLURM_JOB_ID")
  os.remove(af .. ".scontrol")
  _, out = sh("SLURM_JOB_ID=778 SLURM_RESTART_COUNT=2 bash -c " .. shell.quote(run) .. " 2>&1")
  check_has(out, "rc=1", "after max_retries the failure stands")
  check_has(out, "max_retries 2 reached", "and the log says so")
  check(slurm.read(af .. ".scontrol") == nil, "no requeue beyond max_retries")
end

-- submit / status / cancel / collect against a fake Slurm --------------------------------------------------------
do
  local calls = {}
  local next_id = 100
  local states = {} -- id -> scontrol -o line(s)
  sys.exec = function(argv)
    local cmd = argv[1]
    if cmd == "sbatch" then
      calls[#calls + 1] = argv
      next_id = next_id + 1
      return 0, tostring(next_id) .. "\n"
    elseif cmd == "scontrol" then
      local id = argv[#argv]
      if states[id] then return 0, states[id] end
      return 1, "slurm_load_jobs error: Invalid job id specified\n"
    elseif cmd == "sacct" then
      return 1, "sacct: error: Slurm accounting storage is disabled\n"
    elseif cmd == "scancel" then
      calls[#calls + 1] = argv
      return 0, ""
    end
    return real_exec(argv)
  end
  local ctx = make_ctx(BASE, { dir = "sub", overrides = { "phase2.parallel=2" } })
  slurm.submit(ctx, {}, quiet())
  check(#calls == 3, "three sbatch calls, got " .. #calls)
  local a1, a2, a3 = table.concat(calls[1], " "), table.concat(calls[2], " "), table.concat(calls[3], " ")
  check(not has(a1, "--dependency"), "phase 1 has no dependency")
  check_has(a2, "--dependency=afterok:101 --kill-on-invalid-dep=yes", "array after phase 1")
  check_has(a2, "phase2.sbatch", "array script")
  check_has(slurm.read(ctx.pipelines[1].dir .. "/slurm/phase2.sbatch"), "#SBATCH --array=0-3%2", "array spec in script")
  check_has(a3, "--dependency=afterok:102", "phase 3 after the array")
  local rec = cjson.decode(slurm.read(ctx.jobs_file))
  check(rec.pipelines[1].jobs.phase1 == "101" and rec.pipelines[1].jobs.phase2 == "102" and rec.pipelines[1].jobs.phase3 == "103",
    "jobs.json ids")
  check(rec.pipelines[1].array == "0-3%2", "jobs.json array")
  check_has(slurm.read(ctx.base_dir .. "/slurm/submit.log") or "", " fm phase1=101 phase2=102 phase3=103\n", "submit.log history")

  -- a second submit while jobs are active is refused
  states["101"] = "JobId=101 JobName=swap1:fm JobState=RUNNING Reason=None ExitCode=0:0\n"
  check_err(function() slurm.submit(ctx, {}, quiet()) end, "active jobs", "still queued or running", "101")

  -- status: failed phase 1 and dependents that can never run
  local log = ctx.pipelines[1].dir .. "/slurm/phase1-101.out"
  write(log, "loading\nswap-train: error: data/x: cannot open (No such file)\n")
  states["101"] = "JobId=101 JobName=swap1:fm JobState=FAILED Reason=NonZeroExitCode Dependency=(null) ExitCode=1:0 StdOut=" .. log .. "\n"
  states["102"] = "JobId=102 ArrayJobId=102 ArrayTaskId=0-3%2 JobState=PENDING Reason=DependencyNeverSatisfied ExitCode=0:0\n"
  local out = capture()
  local done = slurm.status(ctx, out)
  local t = out.text()
  check(done == false, "status: not complete")
  check_has(t, "phase 1  job 101: FAILED (NonZeroExitCode: the program exited with an error; exit 1:0)", "status phase 1")
  check_has(t, "swap-train: error: data/x: cannot open", "status shows the end of the failed job's log")
  check_has(t, "job 102: [0-3%2] PENDING (DependencyNeverSatisfied: a job it depends on failed or was cancelled)", "status phase 2")
  check_has(t, "job 103: UNKNOWN", "status: job unknown to the controller")
  check_has(t, "results/fm/phase1/model.h5 missing", "status lists result files")

  -- cancel: only what is still active
  calls = {}
  slurm.cancel(ctx, quiet())
  check(#calls == 1 and table.concat(calls[1], " ") == "scancel 102", "cancel the pending array only: " ..
    (calls[1] and table.concat(calls[1], " ") or "none"))

  -- skipping verified outputs: phase 1 done, workers 0 and 2 done, worker 3 corrupt
  states = {}
  calls = {}
  local o = slurm.outputs(ctx.pipelines[1])
  write(o.phase1, "ok"); write(o.workers[0], "ok"); write(o.workers[2], "ok"); write(o.workers[3], "garbage")
  slurm.submit(ctx, {}, quiet())
  check(#calls == 2, "phase 1 skipped: two sbatch calls, got " .. #calls)
  check(not has(table.concat(calls[1], " "), "--dependency"), "array without dependency when phase 1 is done")
  check_has(slurm.read(ctx.pipelines[1].dir .. "/slurm/phase2.sbatch"), "#SBATCH --array=1,3\n", "only missing/invalid workers")
  check_has(table.concat(calls[2], " "), "--dependency=afterok:" .. tostring(next_id - 1), "phase 3 after the partial array")
  rec = cjson.decode(slurm.read(ctx.jobs_file))
  check(rec.pipelines[1].jobs.phase1 == nil and rec.pipelines[1].skipped[1] == "phase1", "jobs.json records the skip")
  -- everything done: nothing submitted
  write(o.phase3, "ok")
  calls = {}
  slurm.submit(ctx, {}, quiet())
  check(#calls == 0, "complete pipeline: nothing submitted")
  -- phase 1 missing again: every worker reruns
  os.remove(o.phase3); os.remove(o.phase1)
  check(#slurm.work(ctx, ctx.pipelines[1]).workers == 4, "rerunning phase 1 reruns all workers")

  -- sbatch failure mid-chain cancels what was submitted
  local n = 0
  sys.exec = function(argv)
    if argv[1] == "sbatch" then
      n = n + 1
      if n == 2 then return 1, "sbatch: error: invalid partition specified\n" end
      return 0, "500\n"
    elseif argv[1] == "scancel" then
      calls[#calls + 1] = argv
      return 0, ""
    elseif argv[1] == "scontrol" then return 1, "" elseif argv[1] == "sacct" then return 1, "" end
    return real_exec(argv)
  end
  calls = {}
  check_err(function() slurm.submit(ctx, {}, quiet()) end, "sbatch failure", "sbatch failed for phase 2",
    "invalid partition", "cancelled 500")
  check(#calls == 1 and calls[1][2] == "500", "submitted phase 1 cancelled after a failure")
  sys.exec = real_exec
end

-- write_atomic (every file the Lua tools write): whole or not at all, with a one-line error naming the file
-- (the full disk itself: tests/sh/test_slurm_full_disk.sh) ----------------------------------------------------
do
  local d = tmp .. "/wa"
  real_exec({ "mkdir", "-p", d })
  slurm.write_atomic(d .. "/a.sbatch", "one\n", "0755")
  check(slurm.read(d .. "/a.sbatch") == "one\n", "write_atomic writes the text")
  local _, mode = real_exec({ "stat", "-c", "%a", d .. "/a.sbatch" })
  check(mode:match("^755") ~= nil, "and sets the mode: " .. mode)
  check_err(function() slurm.write_atomic(d .. "/no/such/dir/b.sbatch", "two") end, "write into a missing directory",
    d .. "/no/such/dir/b.sbatch", "cannot write")
  check_err(function() slurm.write_atomic(d .. "/a.sbatch", "two", "bad-mode") end, "a mode chmod refuses",
    d .. "/a.sbatch", "cannot set mode bad-mode")
  check(slurm.read(d .. "/a.sbatch") == "one\n", "a failed write leaves the previous file as it was")
  local _, left = real_exec({ "find", d, "-name", "*.tmp.*" })
  check(left == "", "no temporary file left behind: " .. left)
end

-- plan and submit of one experiment run one at a time: the second refuses and names the holder, whose death
-- (even kill -9) releases the lock -----------------------------------------------------------------------------
do
  local ctx = make_ctx(BASE, { dir = "locked" })
  real_exec({ "mkdir", "-p", ctx.base_dir .. "/slurm" })
  local lockf, mark = ctx.base_dir .. "/slurm/submit.lock", ctx.base_dir .. "/held"
  local code = string.format('package.path = %q .. package.path; local r = require("swap.sys").lock(%q); ' ..
    'local f = io.open(%q, "w"); f:write(r and "held" or "busy"); f:close(); io.read("l")', src .. "/lua/?.lua;", lockf, mark)
  local holder = io.popen("exec lua5.4 -e " .. shell.quote(code), "w")
  -- until the mark has its word: the holder creates the file empty before writing it, and a loaded machine can
  -- show the empty file to the loop (CI failed so once); a deadline rather than a count of sleeps
  local deadline = os.time() + 120
  while (slurm.read(mark) or "") == "" and os.time() < deadline do os.execute("sleep 0.05") end
  check(slurm.read(mark) == "held", "the other process holds the lock (its mark: " .. tostring(slurm.read(mark)) .. ")")
  check_err(function() slurm.plan(ctx, quiet()) end, "plan while another holds the lock",
    "another swap-slurm plan or submit of this experiment is running", " pid ")
  check(not slurm.exists(ctx.snapshot), "the refused plan wrote nothing")
  holder:close()
  slurm.plan(ctx, quiet())
  check(slurm.exists(ctx.snapshot), "once the holder is gone, plan runs")
end

-- status of a sweep: one verifier process for all its files ------------------------------------------------------
do
  local ctx = make_ctx([[return { name = "many", phase2 = { workers = 2 }, sweep = { seed = { 1, 2, 3, 4, 5 } } }]],
    { dir = "many" })
  for k, pl in ipairs(ctx.pipelines) do
    local o = slurm.outputs(pl)
    write(o.phase1, "ok")
    write(o.workers[0], k == 2 and "broken" or "ok")
    if k ~= 3 then write(o.workers[1], "ok") end
  end
  local log = bin .. "/verify-calls.log"
  os.remove(log)
  local out = capture()
  local done = slurm.status(ctx, out)
  local calls = {}
  for l in io.lines(log) do calls[#calls + 1] = tonumber(l) end
  check(#calls == 1 and calls[1] == 14, "status: one verify process for the 14 existing files of 5 pipelines, got " ..
    #calls .. " call(s)")
  local t = out.text()
  check(not done, "status of an unfinished sweep is not done")
  check_has(t, "many/seed=2/phase2/worker-0.h5 invalid", "a bad file among many is invalid")
  check_has(t, "many/seed=3/phase2/worker-1.h5 missing", "a missing file among many is missing")
  check_has(t, "many/seed=5/phase2/worker-1.h5 ok", "good files among many are ok")
  os.remove(log)
end

-- collect -----------------------------------------------------------------------------------------------------
do
  local ctx = make_ctx([[return { name = "col", sweep = { ["phase1.batch"] = {512, 1024} } }]], { dir = "col" })
  local s1 = { name = "col/phase1.batch=512", phase1 = { test_acc = 0.85, time_s = 100 },
    workers = { { worker = 0, test_acc = 0.88, time_s = 30 }, { worker = 1, test_acc = 0.90, time_s = 45 } },
    average = { test_acc_before_bn = 0.5, test_acc = 0.91 }, ensemble = { test_acc = 0.915 }, phase3 = { time_s = 5 } }
  write(slurm.outputs(ctx.pipelines[1]).summary, cjson.encode(s1))
  local out = capture()
  local rows, header = slurm.collect(ctx, out)
  check(header[2] == "phase1.batch", "sweep variable is a column")
  check(rows[1][2] == "512" and rows[2][2] == "1024", "sweep values in rows")
  local col = {}
  for i, h in ipairs(header) do col[h] = i end
  check(rows[1][col.critical_path_s] == "150.0", "critical path = 100 + max(30, 45) + 5: " .. rows[1][col.critical_path_s])
  check(rows[1][col.worker_test_acc_mean] == "0.8900" and rows[1][col.worker_test_acc_best] == "0.9000", "worker stats")
  check(rows[1][col.average_test_acc] == "0.9100" and rows[1][col.ensemble_test_acc] == "0.9150", "average/ensemble")
  check(rows[1][col.status] == "ok" and rows[2][col.status] == "missing", "status column")
  local csv = slurm.read(ctx.base_dir .. "/collect.csv")
  local md = slurm.read(ctx.base_dir .. "/collect.md")
  check(csv and csv:match("^pipeline,phase1.batch,phase1_test_acc,"), "csv header")
  check(csv and has(csv, "\ncol/phase1.batch=1024,1024,,"), "csv row for a missing summary")
  check(md and has(md, "| col/phase1.batch=512 | 512 | 0.8500 | 100.0 | 2 |"), "markdown row: " .. tostring(md))
  check_has(out.text(), "| pipeline | phase1.batch |", "collect prints the table")
end

-- Baselines: own jobs without dependencies, recorded, shown by plan/status, collected --------------------------
do
  local calls = {}
  local next_id = 700
  local cancelled, scancels, marked = {}, {}, {}
  sys.exec = function(argv)
    if argv[1] == "sbatch" then
      calls[#calls + 1] = table.concat(argv, " ")
      next_id = next_id + 1
      return 0, tostring(next_id) .. "\n"
    elseif argv[1] == "scontrol" and argv[2] == "update" then
      marked[argv[3]:match("^JobId=(%d+)$")] = argv[4] == "Comment=swap-slurm-cancel" or nil
      return 0, ""
    elseif argv[1] == "scontrol" then
      local id = argv[#argv]
      return 0, "JobId=" .. id .. " JobState=" .. (cancelled[id] and "CANCELLED" or "PENDING") .. " Reason=Resources ExitCode=0:0\n"
    elseif argv[1] == "scancel" then
      scancels[#scancels + 1] = table.concat(argv, " ", 2)
      for i = 2, #argv do
        check(marked[argv[i]], "job " .. argv[i] .. " marked as cancelled by swap-slurm before scancel")
        cancelled[argv[i]] = true
      end
      return 0, ""
    elseif argv[1] == "sacct" then return 1, "" end
    return real_exec(argv)
  end
  local BL = [[return { name = "bl", phase1 = { ranks = 2, batch = 1024, lr = 0.8 }, phase2 = { workers = 2 },
    baselines = { small = { batch = 128, epochs = 3 }, large = { batch = 1024, ranks = 2 } } }]]
  local ctx = make_ctx(BL, { dir = "bl" })
  local pl = ctx.pipelines[1]
  local jb = slurm.job(ctx, pl, slurm.BASELINE, nil, "small")
  local sb = slurm.script(ctx, pl, jb)
  check_has(sb, "/swap-train " .. ctx.snapshot .. " --baseline small", "baseline script runs swap-train --baseline")
  check_has(sb, "#SBATCH --job-name=swapb:bl:small\n", "baseline job name")
  check_has(sb, "#SBATCH --ntasks=1\n", "small baseline: 1 rank")
  check_has(slurm.script(ctx, pl, slurm.job(ctx, pl, slurm.BASELINE, nil, "large")), "#SBATCH --ntasks=2\n", "large: 2 ranks")
  local out = capture()
  slurm.plan(ctx, out)
  check_has(out.text(), "baseline small: swap-train --baseline small (batch 128, 3 epochs, lr 0.1)", "plan shows baselines")
  check_has(out.text(), "after nothing (independent of the SWAP chain: runs beside it)", "plan: no dependency")
  slurm.submit(ctx, {}, quiet())
  check(#calls == 5, "3 chain jobs + 2 baselines: " .. #calls)
  local nb = 0
  for _, c in ipairs(calls) do
    if has(c, "baseline-") then
      nb = nb + 1
      check(not has(c, "--dependency"), "a baseline depends on nothing: " .. c)
    end
  end
  check(nb == 2, "two baseline sbatch calls")
  local rec = cjson.decode(slurm.read(ctx.jobs_file))
  local j = rec.pipelines[1].jobs
  check(j["baseline-large"] and j["baseline-small"] and j.phase1 and j.phase3, "jobs.json records the baseline jobs")
  out = capture()
  slurm.status(ctx, out)
  check_has(out.text(), "baseline small job " .. j["baseline-small"] .. ": PENDING", "status shows baseline jobs")
  check_has(out.text(), "results/bl/baseline-small/model.h5 missing", "status shows baseline checkpoints")
  check_err(function() slurm.submit(ctx, {}, quiet()) end, "active baselines", "still queued or running", j["baseline-small"],
    "submit --replace")
  check(#calls == 5 and #scancels == 0, "a refused submit submits and cancels nothing")
  -- plan never touches a queued chain's files: they are what its jobs read when they start (plan once rewrote
  -- slurm/experiment.lua under queued jobs)
  local snap, s1 = slurm.read(ctx.snapshot), slurm.read(jb.script)
  write(ctx.experiment, (BL:gsub("epochs = 3", "epochs = 9")))
  check_err(function() slurm.plan(ctx, quiet()) end, "plan over a queued chain", "still queued or running",
    "plan would rewrite")
  check(slurm.read(ctx.snapshot) == snap and slurm.read(jb.script) == s1, "plan left the queued chain's files alone")
  write(ctx.experiment, BL)
  -- finished baselines are not submitted again; --replace cancels the queued chain first and keeps it on record
  local o = slurm.outputs(pl)
  write(o.baselines.small, "ok"); write(o.baselines.large, "ok")
  calls = {}
  local first = rec
  slurm.submit(ctx, { replace = true }, quiet())
  check(#calls == 3, "verified baselines skipped: " .. #calls)
  check(#scancels == 1 and scancels[1] == "705 704 703 702 701", "replace cancels the whole earlier chain, dependents " ..
    "first: " .. tostring(scancels[1]))
  local rec2 = cjson.decode(slurm.read(ctx.jobs_file))
  check(rec2.pipelines[1].jobs.phase1 ~= first.pipelines[1].jobs.phase1, "jobs.json follows the new chain")
  check(type(rec2.replaced) == "table" and #rec2.replaced == 1 and
    rec2.replaced[1].pipelines[1].jobs.phase1 == first.pipelines[1].jobs.phase1 and #rec2.replaced[1].cancelled == 5,
    "jobs.json keeps the replaced chain on record with the ids it cancelled")
  -- collect: baseline columns from the summary
  write(o.summary, cjson.encode({ phase1 = { test_acc = 0.8, time_s = 10 }, workers = { { worker = 0, test_acc = 0.85, time_s = 5 } },
    average = { test_acc = 0.86 }, phase3 = { time_s = 1 },
    baselines = { small = { test_acc = 0.87, wall_s = 30 }, large = { test_acc = 0.82, wall_s = 12 } } }))
  local rows, header = slurm.collect(ctx, quiet())
  local col = {}
  for i, h in ipairs(header) do col[h] = i end
  check(rows[1][col.baseline_small_test_acc] == "0.8700" and rows[1][col.baseline_large_wall_s] == "12.0",
    "collect: baseline columns")
  check(header[#header] == "status", "status stays the last column")
  sys.exec = real_exec
end

-- Zipped sweep keys and a shared phase 1 ---------------------------------------------------------------------------
do
  local ctx = make_ctx([[return { name = "z", sweep = { seed = {1, 2},
    { ["phase1.batch"] = {512, 1024, 2048}, ["phase1.lr"] = {0.2, 0.4, 0.8} } } }]], { dir = "zip" })
  check(#ctx.pipelines == 6, "zipped: 3 points x 2 seeds = 6 pipelines, got " .. #ctx.pipelines)
  local seen = {}
  for _, pl in ipairs(ctx.pipelines) do
    check(pl.flat["phase1.lr"] == pl.flat["phase1.batch"] / 2560, "zipped values vary together: " .. pl.name)
    seen[pl.name] = true
  end
  check(seen["z/phase1.batch=1024,phase1.lr=0.4,seed=2"], "zipped pipeline name")
  check(#ctx.groups == 6, "phase-1 keys only: no sharing")
  check_err(function() make_ctx([[return { name = "z", sweep = { { ["phase1.batch"] = {512, 1024}, ["phase1.lr"] = {0.2} } } }]],
    { dir = "zip2" }) end, "zip lengths", "zipped keys need lists of one length")
  check_err(function() make_ctx([[return { name = "z", sweep = { ["phase1.lr"] = {1}, { ["phase1.lr"] = {0.2} } } }]],
    { dir = "zip3" }) end, "zip twice", "swept twice")

  -- phase-2 keys (modes) share one phase 1: one phase-1 job, every array depends on it
  local calls = {}
  local next_id = 800
  sys.exec = function(argv)
    if argv[1] == "sbatch" then
      calls[#calls + 1] = table.concat(argv, " ")
      next_id = next_id + 1
      return 0, tostring(next_id) .. "\n"
    elseif argv[1] == "scontrol" or argv[1] == "sacct" then return 1, "" end
    return real_exec(argv)
  end
  ctx = make_ctx([[return { name = "m", phase2 = { workers = 2 }, baselines = { small = { batch = 64 } },
    sweep = { ["phase2.mode"] = { "independent", "wash", "papa" } } }]], { dir = "modes" })
  check(#ctx.groups == 1 and #ctx.groups[1].pipelines == 3, "one group of three pipelines")
  local g = ctx.groups[1]
  check(g.dir == ctx.base_dir and g.name == "m", "the shared phase 1 lives in results/<name>")
  for _, pl in ipairs(ctx.pipelines) do
    check(pl.flat.shared_dir == ctx.base_dir and slurm.outputs(pl).phase1 == ctx.base_dir .. "/phase1/model.h5",
      "pipeline points at the shared phase 1: " .. pl.name)
  end
  local out = capture()
  slurm.plan(ctx, out)
  check_has(out.text(), "swap-train (shared by the 3 pipelines of results/m)", "plan: shared phase 1")
  check_has(out.text(), "phase 1: shared with pipeline m/phase2.mode=independent", "plan: later pipelines share")
  slurm.submit(ctx, {}, quiet())
  local p1, arrays, bls = {}, {}, {}
  for _, c in ipairs(calls) do
    if has(c, "/phase1.sbatch") then p1[#p1 + 1] = c
    elseif has(c, "/phase2.sbatch") then arrays[#arrays + 1] = c
    elseif has(c, "baseline-") then bls[#bls + 1] = c end
  end
  check(#p1 == 1 and #arrays == 3 and #bls == 1, string.format("one phase 1, three phase 2s, one baseline: %d %d %d", #p1, #arrays, #bls))
  local id1 = "801"
  for _, c in ipairs(arrays) do check_has(c, "--dependency=afterok:" .. id1, "every phase 2 after the one phase 1") end
  check_has(slurm.read(ctx.pipelines[2].dir .. "/slurm/phase2.sbatch"), "--set shared_dir=" .. ctx.base_dir, "phase 2 names the shared dir")
  local rec = cjson.decode(slurm.read(ctx.jobs_file))
  check(rec.pipelines[1].jobs.phase1 == id1 and rec.pipelines[3].jobs.phase1 == id1, "every pipeline records the shared phase 1")
  -- phase 1 done: nothing of it submitted again
  write(slurm.outputs(ctx.pipelines[1]).phase1, "ok")
  calls = {}
  slurm.submit(ctx, {}, quiet())
  for _, c in ipairs(calls) do
    check(not has(c, "phase1.sbatch") and not (has(c, "phase2.sbatch") and has(c, "--dependency")), "no phase 1 again: " .. c)
  end
  check(#calls == 7, "three phase 2s, three phase 3s and the unfinished baseline: " .. #calls)
  sys.exec = real_exec
end

-- collect over seed replicates: mean ± sample standard deviation per row ---------------------------------------------
do
  local ctx = make_ctx([[return { name = "sd", sweep = { seed = {1, 2, 3}, ["phase1.batch"] = {512, 1024} } }]], { dir = "seeds" })
  local accs = { [512] = { 0.90, 0.92, 0.94 }, [1024] = { 0.80, 0.80, 0.80 } }
  for _, pl in ipairs(ctx.pipelines) do
    local a = accs[pl.values["phase1.batch"]][pl.values.seed]
    if not (pl.values["phase1.batch"] == 1024 and pl.values.seed == 3) then -- one replicate missing
      write(slurm.outputs(pl).summary, cjson.encode({ phase1 = { test_acc = a, time_s = 10 * pl.values.seed },
        workers = { { worker = 0, test_acc = a, time_s = 1 } }, average = { test_acc = a + 0.01 }, phase3 = { time_s = 1 } }))
    end
  end
  local out = capture()
  slurm.collect(ctx, out)
  local md = slurm.read(ctx.base_dir .. "/collect-seeds.md")
  check(md ~= nil, "collect-seeds.md written")
  check_has(md, "| 512 | 3 (1, 2, 3) | 0.9200 ± 0.0200 | 20.0 ± 10.0 |", "mean ± sample std over 3 seeds")
  check_has(md, "| 1024 | 2 (1, 2) | 0.8000 ± 0.0000 |", "a missing replicate is left out, n says so")
  check_has(md, "0.9300 ± 0.0200", "average column aggregated too")
  local csv = slurm.read(ctx.base_dir .. "/collect-seeds.csv")
  check(csv and csv:match("^phase1.batch,seeds,phase1_test_acc_mean,phase1_test_acc_std,"), "csv: mean and std columns")
  check_has(out.text(), "over seeds (mean ± sample standard deviation)", "collect prints the seed table")
  local m, sd = slurm.mean_std({ 1, 2, 3, 4 })
  check(m == 2.5 and math.abs(sd - math.sqrt(5 / 3)) < 1e-12, "mean_std")
  check(select(2, slurm.mean_std({ 1 })) == nil, "one value: no std")
end

real_exec({ "rm", "-rf", tmp })
T.finish()
