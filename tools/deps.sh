#!/usr/bin/env bash
# Installs the Debian packages actorflow needs, only those that are missing.
# Idempotent; needs root (or sudo) only when something has to be installed.
set -euo pipefail

packages=(
  build-essential
  cmake
  g++
  pkg-config
  patch
  libcaf-dev
  libssl-dev
  openssl
  libboost-test-dev
  libtbb-dev
  libbenchmark-dev
  clang-format
  doxygen
  # the Prometheus exporter (actorflow::metrics) and its test's HTTP client
  prometheus-cpp-dev
  curl
  # the test of the live page (pipeline_view) loads it in headless Chromium
  chromium
  # tools/fuzz.sh: clang and its libFuzzer/sanitizer runtimes (not a
  # dependency of Debian 12's clang package)
  clang
  libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  if [[ "$status" != "installed" ]]; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "deps.sh: all packages present (${packages[*]})"
  exit 0
fi

echo "deps.sh: installing ${missing[*]}"
sudo=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "deps.sh: need root to install ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
