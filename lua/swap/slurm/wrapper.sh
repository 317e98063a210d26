#!/bin/bash
# The run/forward/requeue logic every generated batch script carries (swap-slurm pastes this file, from the line
# after the shellcheck directive on, into each script). The executable runs in the background so the batch shell
# can take USR1 (sent --signal=B:USR1@N before the time limit) or TERM (preemption) and pass it on; the
# executable then writes a resumable checkpoint and exits 3, and the job requeues itself (the same command
# resumes from the checkpoint). The script sets SWAP_MAX_REQUEUES and SWAP_MAX_RETRIES before this text.
# shellcheck shell=bash disable=SC2034
swap_forward() {
  echo "swap: $1 received; asking the program to checkpoint" >&2
  if [ -n "$swap_child" ]; then kill -s "$1" "$swap_child" 2>/dev/null; else swap_pending=$1; fi
}

swap_run() {
  # traps first, so a signal arriving while the program starts is not lost
  swap_child=
  swap_pending=
  trap 'swap_forward USR1' USR1
  trap 'swap_forward TERM' TERM
  "$@" &
  swap_child=$!
  if [ -n "$swap_pending" ]; then kill -s "$swap_pending" "$swap_child" 2>/dev/null; fi
  while :; do
    wait "$swap_child"
    swap_rc=$?
    # wait returns >128 when a trapped signal interrupts it; keep waiting while the child is alive
    if [ "$swap_rc" -gt 128 ] && kill -0 "$swap_child" 2>/dev/null; then continue; fi
    break
  done
  if [ "$swap_rc" -gt 128 ]; then
    wait "$swap_child" 2>/dev/null
    swap_rc2=$?
    if [ "$swap_rc2" -ne 127 ]; then swap_rc=$swap_rc2; fi
  fi
  trap - USR1 TERM
  return "$swap_rc"
}

# scancel also sends TERM, and a cancelled job must end, not requeue itself; the state then says COMPLETING as it
# may for other ends, so swap-slurm cancel (and submit --replace) mark the job first (Comment=swap-slurm-cancel)
swap_cancelled() {
  scontrol -o show job "$SLURM_JOB_ID" 2>/dev/null | grep -Eq 'Comment=swap-slurm-cancel|JobState=CANCELLED'
}

swap_finish() {
  if [ "$1" -ne 0 ] && [ -n "${SLURM_JOB_ID:-}" ] && swap_cancelled; then
    echo "swap: job $SLURM_JOB_ID was cancelled; not requeueing (exit $1)" >&2
    exit "$1"
  fi
  if [ "$1" -eq 3 ] && [ -n "${SLURM_JOB_ID:-}" ]; then
    if [ "${SLURM_RESTART_COUNT:-0}" -lt "$SWAP_MAX_REQUEUES" ]; then
      echo "swap: checkpoint written; requeueing job $SLURM_JOB_ID (restart ${SLURM_RESTART_COUNT:-0})" >&2
      if scontrol requeue "$SLURM_JOB_ID"; then exit 0; fi
      echo "swap: scontrol requeue failed; exiting with code 3 (resubmit to resume)" >&2
    else
      echo "swap: preempted again after $SWAP_MAX_REQUEUES requeues; giving up (resubmit to resume)" >&2
    fi
  elif [ "$1" -ne 0 ] && [ -n "${SLURM_JOB_ID:-}" ]; then
    # a real failure: run it again, up to the profile's max_retries (restarts of any kind count)
    if [ "${SLURM_RESTART_COUNT:-0}" -lt "$SWAP_MAX_RETRIES" ]; then
      echo "swap: exit $1; retrying: requeueing job $SLURM_JOB_ID (restart ${SLURM_RESTART_COUNT:-0}, max_retries $SWAP_MAX_RETRIES)" >&2
      if scontrol requeue "$SLURM_JOB_ID"; then exit 0; fi
      echo "swap: scontrol requeue failed" >&2
    elif [ "$SWAP_MAX_RETRIES" -gt 0 ]; then
      echo "swap: exit $1 after ${SLURM_RESTART_COUNT:-0} restart(s); max_retries $SWAP_MAX_RETRIES reached, giving up" >&2
    fi
  fi
  exit "$1"
}
