#!/usr/bin/env bash
# Prove the labs on THIS host (the lab VM, or a CI machine), as tests/system/labs does:
# for each lab, reset it, see every check fail, run its solution.sh (the README's steps)
# with EVERY STEP RUN TWICE (as a student who repeats a step: the second run may fail,
# it must not break the lab), see every check pass, run its questions.sh (what the
# README's Questions ask to try; it must exit 0), reset it, see every check fail again
# and nothing of the lab left (no mount, no LAB=NN process).
#   sudo bash prove.sh            # every lab
#   sudo bash prove.sh 04 05      # some labs
# Prints one line per lab and phase; exits 1 if any lab failed to prove.
# Runs the labs for real: lab 05 only touches its own lab05* network namespaces, the
# others run containers with --net none. Each lab is reset afterwards.
set -u
cd "$(dirname "$0")"
export GOPHERNETES_LABS=$PWD
failed=0
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
exit $failed
