#!/bin/bash
# The GPU part of the pipeline, as run on the accelerator machine: train, write the
# reference fixture, cross-check with transformers, measure head patterns. Results
# are copied to $OUT. Expects tools/builtin-model/.data from prepare.py.
set -u -o pipefail
OUT=${OUT:-/tmp/builtin-model-out}
mkdir -p "$OUT"
cd "$(dirname "$0")/../.."
export PYTHONUNBUFFERED=1
log=$OUT/run.log
{ nvidia-smi --query-gpu=name,memory.total --format=csv; python3 -c 'import torch, numpy, regex; print("torch", torch.__version__, "numpy", numpy.__version__)'; } 2>&1 | tee -a "$log"
start=$(date +%s)
if ! python3 tools/builtin-model/train.py --time-budget "${BUDGET:-380}" 2>&1 | tee -a "$log"; then
  spent=$(( $(date +%s) - start ))
  if [ "$spent" -lt 120 ]; then
    echo "training failed after ${spent}s: retrying with --safe" | tee -a "$log"
    python3 tools/builtin-model/train.py --safe --time-budget $(( ${BUDGET:-380} - spent - 20 )) 2>&1 | tee -a "$log"
  fi
fi
cp media/builtin-model/config.json media/builtin-model/model.safetensors tools/builtin-model/train-summary.json "$OUT"/
python3 tools/builtin-model/reference.py 2>&1 | tee -a "$log"
cp test/fixtures/builtin-reference/expected.json test/fixtures/builtin-reference/expected.safetensors "$OUT"/
python3 tools/builtin-model/check_transformers.py 2>&1 | tee -a "$log"
python3 tools/builtin-model/head_patterns.py --json "$OUT"/head_patterns.json 2>&1 | tee -a "$log"
echo "device run took $(( $(date +%s) - start ))s" | tee -a "$log"
