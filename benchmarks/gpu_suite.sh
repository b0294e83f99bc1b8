#!/usr/bin/env bash
# Every GPU figure in one run (see benchmarks/gpu_suite.py): bash benchmarks/gpu_suite.sh [--smoke] --images DIR --out DIR
# Runs from any directory; uses $PYTHON (default python3) with the repository root on PYTHONPATH (no install needed).
set -u
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PYTHONUNBUFFERED=1
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
export SUITE_T0="${SUITE_T0:-$(date +%s)}"
export TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1
exec "${PYTHON:-python3}" "$root/benchmarks/gpu_suite.py" "$@"
