# Shared by the labs' reset.sh scripts (sourced: `. ../lib.sh`); nothing here runs by itself.

# kill_lab_processes NN: SIGKILL every process started with LAB=NN in its environment
# (KILL, not TERM: PID 1 of a PID namespace ignores TERM).
kill_lab_processes() {
  local proc
  for proc in /proc/[0-9]*; do
    if { tr '\0' '\n' <"$proc/environ"; } 2>/dev/null | grep -qx "LAB=$1"; then
      kill -KILL "${proc#/proc/}" 2>/dev/null
    fi
  done
}

# unmount_all PATH: unmount every mount at or below PATH, innermost first, again and again
# until none is left (a step run twice stacks two mounts on the same point: one umount
# only uncovers the first). Returns 1 if a mount is still there after ten rounds.
unmount_all() {
  local round target targets
  for round in 1 2 3 4 5 6 7 8 9 10; do
    targets=$(findmnt -rn -o TARGET | grep -E "^$1(/|\$)" | sort -r)
    [ -n "$targets" ] || return 0
    for target in $targets; do
      umount "$target" 2>/dev/null || umount -l "$target" 2>/dev/null
    done
  done
  ! findmnt -rn -o TARGET | grep -qE "^$1(/|\$)"
}
