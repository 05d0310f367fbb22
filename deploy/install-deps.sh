#!/usr/bin/env bash
# Installs the Debian (bookworm) packages consensusd needs to build, test and run.
# Idempotent: installs only what is missing, and does nothing when all is present.
#   deploy/install-deps.sh   build, test (Chromium for the dashboard test, clang and its
#                            libFuzzer runtime for the fuzz targets) and run dependencies
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  librdkafka-dev librocksdb-dev libeigen3-dev prometheus-cpp-dev libabsl-dev
  libgtest-dev libgmock-dev librapidcheck-dev libbenchmark-dev
  libsimdjson-dev nlohmann-json3-dev libyaml-cpp-dev libcli11-dev libspdlog-dev
  libcpp-httplib-dev kcat prometheus curl chromium python3-websocket
  openjdk-17-jre-headless maven
  clang libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
