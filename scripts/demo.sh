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
if command -v arm-none-eabi-gcc > /dev/null 2>&1; then
    "$PY" -m covguard run --output-dir "$OUT"
else  # the product image is a Cortex-M3 one: without the cross compiler, link it for the host
    echo "demo: arm-none-eabi-gcc is not installed (make bootstrap): the product image is built with gcc"
    "$PY" -m covguard run --output-dir "$OUT" --set product.compiler=gcc
fi
status=$?
echo
case $status in
    0) echo "demo: the gate passed - unexpected: the sample's planted defects should fail it"; exit 1 ;;
    1) echo "demo: covguard's gate failed (exit 1), as it should: the sample has planted defects (see sample_firmware/README.md)."
       echo "demo: outputs are in $OUT:"
       echo "demo:   HTML report   $OUT/index.html"
       echo "demo:   SARIF         $OUT/covguard.sarif"
       echo "demo:   JUnit         $OUT/junit.xml"
       echo "demo:   Cobertura     $OUT/cobertura.xml"
       echo "demo:   trace matrix  $OUT/trace-matrix.csv, $OUT/trace-matrix.xlsx"
       echo "demo:   PR comment    $OUT/summary.md"
       "$PY" -m covguard evidence export --output-dir "$OUT" > /dev/null || exit $?
       echo "demo:   evidence      $OUT/covguard-evidence.tar.gz (covguard evidence verify checks it)"
       exit 0 ;;
    *) echo "demo: covguard failed with exit status $status"; exit "$status" ;;
esac
