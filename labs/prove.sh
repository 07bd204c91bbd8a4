#!/usr/bin/env bash
# Prove the labs on THIS host (the lab VM, or a CI machine), as tests/system/labs does:
# for each lab, reset it, see every check fail, run its solution.sh (the README's steps)
# with EVERY STEP RUN TWICE (as a student who repeats a step: the second run may fail,
# it must not break the lab), see every check pass, run its questions.sh (what the
# README's Questions ask to try; it must exit 0), reset it, see every check fail again
# and nothing of the lab left (no mount, no LAB=NN process).
#   sudo bash prove.sh            # every lab
#   sudo bash prove.sh 04 05      # some labs
#   sudo bash prove.sh --exercises [NN...]   # only the exercises (no lab step runs)
# Then each lab's Python exercise (exercise/, see README.md "Exercises"): its untouched copy
# (exercise.orig.py) fails every part, its solution.py (gophernetes' own code) passes
# every part, and neither leaves anything behind.
# Prints one line per lab and per exercise; exits 1 if any failed to prove.
# Runs the labs for real: lab 05 only touches its own lab05* network namespaces, the
# others run containers with --net none. Each lab is reset afterwards.
set -u
cd "$(dirname "$0")"
export GOPHERNETES_LABS=$PWD
failed=0
only_exercises=0
if [ "${1:-}" = --exercises ]; then only_exercises=1; shift; fi
labs=("$@")
[ ${#labs[@]} -gt 0 ] || labs=($(ls -d [0-9][0-9]-*/ | cut -c1-2))

passes() { gophernetes lab check "$1" 2>&1 | grep -c '^ *PASS' || true; }
steps() { grep -c '^def test_step_' "$1"-*/checks/test_*.py | awk -F: '{n += $NF} END {print n}'; }

# solution.sh with each step twice: first as written (set -e: it must work), then again
# with errors allowed (a second `ip netns add` or `ctr run` of the same name fails).
twice() {
  awk '/^# --- step [0-9]+$/ { flush(); inside = 1 }
       { if (inside) step = step $0 "\n"; else print }
       function flush() { if (step != "") printf "%sset +eu\n%sset -eu\n", step, step; step = "" }
       END { flush() }' "$1"
}

# What a reset must not leave: mounts naming the lab (/run/lab01, /srv/lab06/merged,
# tmpfs lab03-shared, /run/netns/lab05, ...) and LAB=NN processes.
leftovers() {
  findmnt -rn -o TARGET,SOURCE | grep -E "(^|[/ ])lab$1([-/ ]|\$)" | sed 's/^/mount /'
  for proc in /proc/[0-9]*; do
    if { tr '\0' '\n' <"$proc/environ"; } 2>/dev/null | grep -qx "LAB=$1"; then echo "process ${proc#/proc/}"; fi
  done
}

for lab in "${labs[@]}"; do
  [ $only_exercises = 0 ] || break
  started=$SECONDS
  total=$(steps "$lab")
  gophernetes lab reset "$lab" >/dev/null
  fresh=$(passes "$lab")
  log=$(mktemp)
  bash -c "$(twice "$lab"-*/solution.sh)" </dev/null >"$log" 2>&1; rc=$?
  checked=$(date +%s%N)
  solved=$(passes "$lab")
  check_ms=$(( ($(date +%s%N) - checked) / 1000000 ))
  # the Questions' commands, on the solved lab (a lab without question blocks has no questions.sh)
  qlog=$(mktemp); qrc=0
  for questions in "$lab"-*/questions.sh; do
    if [ -f "$questions" ]; then timeout 600 bash "$questions" </dev/null >"$qlog" 2>&1 || qrc=$?; fi
  done
  gophernetes lab reset "$lab" >/dev/null
  again=$(passes "$lab")
  left=$(leftovers "$lab")
  if [ "$fresh" = 0 ] && [ $rc = 0 ] && [ "$solved" = "$total" ] && [ $qrc = 0 ] && [ "$again" = 0 ] && [ -z "$left" ]; then
    echo "PROVED lab $lab: 0/$total fresh, solution (every step twice) ok, $solved/$total solved, questions ok, 0/$total after reset, nothing left" \
         "($((SECONDS - started)) s; one lab check: $check_ms ms)"
  else
    echo "FAILED lab $lab: $fresh/$total fresh, solution (every step twice) exit $rc, $solved/$total solved," \
         "questions exit $qrc, $again/$total after reset, left: ${left:-nothing} ($((SECONDS - started)) s)"
    tail -20 "$log" | sed 's/^/    /'
    if [ $qrc != 0 ]; then echo "    questions.sh:"; tail -20 "$qlog" | sed 's/^/    /'; fi
    failed=1
  fi
  rm -f "$log" "$qlog"
done

# ---------------------------------------------------------------- the exercises
part_lines() { grep -c "^ *$1  part" || true; }
parts() { grep -c '^def test_part_' "$1"-*/exercise/check_exercise.py; }

# What an exercise check must not leave: its temporary folders, mounts, cgroups, namespaces.
exercise_leftovers() {
  findmnt -rn -o TARGET | grep -E "gophernetes-exercise|/run/netns/ex05" | sed 's/^/mount /'
  ls -d /sys/fs/cgroup/gophernetes-exercise* /sys/fs/cgroup/*/gophernetes-exercise* /run/netns/ex05* \
    "${TMPDIR:-/tmp}"/gophernetes-exercise* 2>/dev/null | sed 's/^/left /'
}

for lab in "${labs[@]}"; do
  [ -f "$lab"-*/exercise/check_exercise.py ] 2>/dev/null || continue
  total=$(parts "$lab")
  untouched=$(gophernetes lab check "$lab" --exercise --file "$(echo "$lab"-*/exercise/exercise.orig.py)" 2>&1)
  rc_untouched=$?
  solved=$(gophernetes lab check "$lab" --exercise --solution 2>&1)
  rc_solved=$?
  fresh_fail=$(echo "$untouched" | part_lines FAIL)
  solved_pass=$(echo "$solved" | part_lines PASS)
  left=$(exercise_leftovers)
  if [ $rc_untouched = 1 ] && [ "$fresh_fail" = "$total" ] && [ $rc_solved = 0 ] && [ "$solved_pass" = "$total" ] \
     && [ -z "$left" ]; then
    echo "PROVED exercise $lab: untouched fails $fresh_fail/$total parts, solution passes $solved_pass/$total, nothing left"
  else
    echo "FAILED exercise $lab: untouched fails $fresh_fail/$total (exit $rc_untouched)," \
         "solution passes $solved_pass/$total (exit $rc_solved), left: ${left:-nothing}"
    { echo "$untouched"; echo "$solved"; } | tail -20 | sed 's/^/    /'
    failed=1
  fi
done
exit $failed
