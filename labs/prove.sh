#!/usr/bin/env bash
# Prove the labs on THIS host (the lab VM, or a CI machine), as tests/system/labs does:
# for each lab, reset it, see every check fail, run its solution.sh (the README's
# steps), see every check pass, reset it, see every check fail again.
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

for lab in "${labs[@]}"; do
  total=$(steps "$lab")
  gophernetes lab reset "$lab" >/dev/null
  fresh=$(passes "$lab")
  log=$(mktemp)
  bash "$lab"-*/solution.sh </dev/null >"$log" 2>&1; rc=$?
  solved=$(passes "$lab")
  gophernetes lab reset "$lab" >/dev/null
  again=$(passes "$lab")
  if [ "$fresh" = 0 ] && [ $rc = 0 ] && [ "$solved" = "$total" ] && [ "$again" = 0 ]; then
    echo "PROVED lab $lab: 0/$total fresh, solution ok, $solved/$total solved, 0/$total after reset"
  else
    echo "FAILED lab $lab: $fresh/$total fresh, solution exit $rc, $solved/$total solved, $again/$total after reset"
    tail -20 "$log" | sed 's/^/    /'
    failed=1
  fi
  rm -f "$log"
done
exit $failed
