#!/bin/sh
# `make demo-target`: the sample firmware's unit tests cross-compiled for an Arm Cortex-M3 and run
# on QEMU's mps2-an385 board (toolchain profile cortex-m3-qemu), per-test coverage brought back
# through semihosting. Same results and findings as `make demo` on the host, so covguard's gate
# fails (exit 1) on the sample's planted defects, as it should; the demo says so and succeeds.
set -u
PY="$1"
OUT="$2"
case "$PY" in /*) ;; *) PY="$(pwd)/$PY" ;; esac
case "$OUT" in /*) ;; *) OUT="$(pwd)/$OUT" ;; esac
for tool in arm-none-eabi-gcc qemu-system-arm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "demo-target: $tool is missing: apt-get install --no-install-recommends gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm (or: make bootstrap)"
        exit 2
    fi
done
cd sample_firmware || exit 2
"$PY" -m covguard run --toolchain cortex-m3-qemu --output-dir "$OUT"
status=$?
echo
case $status in
    0) echo "demo-target: the gate passed - unexpected: the sample's planted defects should fail it"; exit 1 ;;
    1) echo "demo-target: covguard's gate failed (exit 1), as it should: the tests ran on an emulated Cortex-M3 and found the sample's planted defects."
       echo "demo-target: outputs are in $OUT (in findings.json the C tests' origin is qemu-cortex-m3)"
       echo "demo-target: host and target in one analysis, with class C required on the target:"
       echo "demo-target:   cd sample_firmware && covguard run --set 'analysis.runs=[\"host-gcc\",\"cortex-m3-qemu\"]' --set 'gate.require_target=[\"C\"]'"
       exit 0 ;;
    *) echo "demo-target: covguard failed with exit status $status"; exit "$status" ;;
esac
