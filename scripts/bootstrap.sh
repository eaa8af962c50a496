#!/bin/sh
# Installs the toolchains covguard's tests use, on Debian, when we are root or have sudo.
# Only missing packages are installed (--no-install-recommends); anywhere else this says what is
# missing and leaves the machine alone: tests that need a missing toolchain then skip, or fail when
# COVGUARD_REQUIRE_TOOLCHAINS=1 (as in CI).
set -eu

PACKAGES="gcc g++ make cmake ninja-build scons libcpputest-dev libgtest-dev libcmocka-dev gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm clang-19 llvm-19 libclang-rt-19-dev chromium lcov openssl"

missing=""
if command -v dpkg-query >/dev/null 2>&1; then
    for p in $PACKAGES; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
            missing="$missing $p"
        fi
    done
else
    echo "bootstrap: not a Debian system; install these yourself if the tests need them: $PACKAGES"
    exit 0
fi

if [ -z "$missing" ]; then
    echo "bootstrap: toolchain packages present"
    exit 0
fi

if [ "$(id -u)" = "0" ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    echo "bootstrap: missing packages:$missing (not root and no sudo: install them to run every test)"
    exit 0
fi

echo "bootstrap: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "bootstrap: done"
