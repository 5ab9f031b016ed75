#!/usr/bin/env bash
# The paper's protocol on one lent GPU in one call: none / uniform / AWD (PTB, paper sizes, the chosen recipe)
# trained side by side, each stopped by a wall-clock budget and evaluated, the table written as small files
# (Markdown, and JSON with every run's metrics and training log; no weights) into $OUT.
#
# Prepare once on this machine (see ../shared/notes/gpu-device.md: the GPU image lacks transformers >= 5.24 and
# datasets, and ../shared does not travel):
#   printf '/.whl/\n/.data/\n' >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#       -d .whl transformers==5.24.0 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 regex==2026.11.19
#   mkdir -p .data && cp -r ../shared/data/ptb .data/ptb
# then run `bash benchmarks/gpu_protocol.sh` through the device tool with carry [".whl", ".data"], timeout 600.
# On a CPU it runs as is (without .whl), e.g. with tiny sizes: bash benchmarks/gpu_protocol.sh --embedding_size 8 ...
# Settings: MINUTES (training budget per run, default 7), RECIPE (authors), DATA (.data/ptb, else
# ../shared/data/ptb), RUNS (the runs' folders, default /tmp/gpu-protocol; finished runs there are reused), OUT
# (default outputs/gpu-protocol), SPEED=1 to add `benchmark.py --speed` on the same device (a few minutes).
# Further arguments go to every run (scripts/train.py's options).
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${MINUTES:-7}
RECIPE=${RECIPE:-authors}
DATA=${DATA:-$([ -d .data/ptb ] && echo .data/ptb || echo ../shared/data/ptb)}
RUNS=${RUNS:-/tmp/gpu-protocol}
OUT=${OUT:-outputs/gpu-protocol}
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site:$PWD"
fi
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
python3 scripts/benchmark.py --corpus ptb --preset paper --recipes "$RECIPE" --methods none uniform adversarial \
  --seeds 0 --jobs 3 --iw_samples 0 --output_dir "$RUNS" --table_name protocol \
  --extra --train_file "$DATA/train.txt" --validation_file "$DATA/valid.txt" --test_file "$DATA/test.txt" \
  --max_train_minutes "$MINUTES" "$@"
mkdir -p "$OUT"
cp "$RUNS/protocol.md" "$RUNS/protocol.json" "$OUT"/
if [ "${SPEED:-0}" = 1 ]; then python3 scripts/benchmark.py --speed --output_dir "$OUT"; fi
