#!/bin/sh
# `make demo`: covguard's main job on the sample insulin-pump firmware.
# The sample has planted defects, so covguard's gate fails (exit 1) as it should; the demo says so
# and succeeds. Any other failure (exit 2 or 3) fails the demo.
set -u
PY="$1"
OUT="$2"
case "$PY" in /*) ;; *) PY="$(pwd)/$PY" ;; esac
case "$OUT" in /*) ;; *) OUT="$(pwd)/$OUT" ;; esac
cd sample_firmware || exit 2
"$PY" -m covguard run --output-dir "$OUT"
status=$?
echo
case $status in
    0) echo "demo: the gate passed - unexpected: the sample's planted defects should fail it"; exit 1 ;;
    1) echo "demo: covguard's gate failed (exit 1), as it should: the sample has planted defects (see sample_firmware/README.md)."
       echo "demo: outputs are in $OUT"; exit 0 ;;
    *) echo "demo: covguard failed with exit status $status"; exit "$status" ;;
esac
