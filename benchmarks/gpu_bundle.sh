#!/usr/bin/env bash
# Pack what the GPU suite needs on a GPU machine that has PyTorch but no network, into one folder:
#
#   bash benchmarks/gpu_bundle.sh BUNDLE JPEG_DIR [N_FILES]   # here, with PyPI reachable
#   bash BUNDLE/run.sh [gpu_suite.sh args ...]                # there, from the repository root
#
# BUNDLE/whl holds the pinned (requirements.lock) wheels of the packages such a machine's PyTorch image
# may lack or hold in other versions (timm, transformers, pydantic and their small dependencies) for
# CPython 3.12 on x86-64 Linux; BUNDLE/images the first N_FILES (default 384) JPEG files of JPEG_DIR.
# run.sh installs the wheels into /tmp/site (never into the machine's own environment), runs the CUDA
# tests, then benchmarks/gpu_suite.sh over BUNDLE/images. Its output and results.json go to $OUT (or
# ./gpu-suite-out): log.txt, pytest.txt, results.json. Keep BUNDLE inside the checkout but ignored
# (e.g. /carry/ in .gitignore) so it travels with the working tree.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bundle="${1:?usage: gpu_bundle.sh BUNDLE JPEG_DIR [N_FILES]}"
images="${2:?usage: gpu_bundle.sh BUNDLE JPEG_DIR [N_FILES]}"
n_files="${3:-384}"
packages=(timm transformers regex pydantic pydantic_core annotated-types typing-inspection typing_extensions)

rm -rf "$bundle/images"
mkdir -p "$bundle/whl" "$bundle/images"
rm -f "$bundle"/whl/*.whl
for package in "${packages[@]}"; do
  pin="$(grep -i -E "^${package//[-_]/[-_]}==" "$root/requirements.lock" || true)"
  [ -n "$pin" ] || { echo "no pin for $package in requirements.lock" >&2; exit 1; }
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$bundle/whl" "$pin"
done
mapfile -t files < <(find "$images" -maxdepth 1 -type f \( -iname '*.jpeg' -o -iname '*.jpg' \) | sort)
cp "${files[@]:0:$n_files}" "$bundle/images/"

cat > "$bundle/run.sh" <<'EOF'
#!/usr/bin/env bash
# Written by benchmarks/gpu_bundle.sh: the CUDA tests, then the GPU suite (arguments go to gpu_suite.sh).
set -o pipefail
bundle="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export SUITE_T0="$(date +%s)" PYTHONUNBUFFERED=1
OUT="${OUT:-$PWD/gpu-suite-out}"
mkdir -p "$OUT"
site=/tmp/site
rm -rf "$site"
if python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$site" "$bundle"/whl/*.whl; then
  export PYTHONPATH="$site:$PWD"
else
  echo "WARNING: installing the bundled wheels failed; using the machine's own packages" | tee "$OUT/log.txt"
  export PYTHONPATH="$PWD"
fi
timeout 300 python3 -m pytest -p no:cacheprovider -q -rs tests/integration/test_stream_on_cuda.py \
  tests/unit/test_device_decoding.py 2>&1 | tail -n 40 | tee "$OUT/pytest.txt"
bash benchmarks/gpu_suite.sh --images "$bundle/images" --out "$OUT" "$@" 2>&1 | tee -a "$OUT/log.txt"
EOF
chmod +x "$bundle/run.sh"
echo "bundle: $(du -sh "$bundle" | cut -f1) in $bundle ($(ls "$bundle/whl" | wc -l) wheels, $(ls "$bundle/images" | wc -l) images)"
