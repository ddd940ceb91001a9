#!/bin/sh
# Installs the Debian packages ftunet builds against. Idempotent: does nothing when all are
# present; as root it runs apt-get, otherwise it prints the exact command and fails.
# strace: tests/cli_kill.sh kills training runs with its fault injection (skipped without it).
# `install-deps.sh fuzz`: also clang and its libFuzzer/sanitizer runtimes (make fuzz).
# `install-deps.sh report`: also chromium, for tests/cli_report.sh's headless screenshot of a
# report (skipped without it; about 150 MB to download, 440 MB installed).
# `install-deps.sh mpi`: also Open MPI, for `mpirun -n R` data parallelism (src/dist/) and its
# tests (tests/mpi_*.sh); the build turns MPI on when it finds it.
set -eu
PKGS="cmake make gcc pkg-config libdnnl-dev libpng-dev libjpeg62-turbo-dev libtiff-dev libwebp-dev libcjson-dev zlib1g-dev strace"
[ "${1:-}" = fuzz ] && PKGS="$PKGS clang libclang-rt-dev"
[ "${1:-}" = report ] && PKGS="$PKGS chromium"
[ "${1:-}" = mpi ] && PKGS="$PKGS libopenmpi-dev openmpi-bin"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "ftunet: missing Debian packages:$missing" >&2
if [ "$(id -u)" = 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || true
  apt-get install -y --no-install-recommends $missing
else
  echo "ftunet: run as root: apt-get install -y$missing" >&2
  exit 1
fi
