# Sourced by the bench scripts: `measure CMD...` runs CMD $RUNS times (default 3) and prints
# "median_seconds max_peak_MB" (wall time and peak resident memory from /usr/bin/time). A
# failing run is run again in the open, so its message shows, and the script stops.
measure() {
  local times=() peaks=() out stats
  stats=$(mktemp)
  for _ in $(seq "${RUNS:-3}"); do
    if ! /usr/bin/time -o "$stats" -f "%e %M" "$@" >/dev/null 2>&1; then
      echo "$(basename "$0"): failed: $*" >&2
      "$@" >/dev/null
      exit 1
    fi
    out=$(tail -n1 "$stats")
    times+=("${out% *}")
    peaks+=("${out#* }")
  done
  rm -f "$stats"
  python3 - "${times[*]}" "${peaks[*]}" <<'PY'
import statistics, sys
t = [float(x) for x in sys.argv[1].split()]
m = [int(x) for x in sys.argv[2].split()]
print(f"{statistics.median(t):.3f} {max(m) / 1024:.0f}")
PY
}
