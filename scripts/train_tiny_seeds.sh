#!/usr/bin/env bash
# The tiny-cpu must-show (issue 18): the recipe (SFT warm start, then GRPO) on 3 seeds and an lr = 0
# control (sft_lr = grpo_lr = 0; its SFT cut to 0.05 epochs, as nothing moves), then the held-out test
# numbers per run and level: mean reward before and after, valid plans, correct targets. One thread per
# run (~15 min a run on an idle core). Runs are independent: several may run at once (one SEEDS each).
#
#   scripts/train_tiny_seeds.sh [OUT]          # default OUT: runs/tiny-seeds
#   SEEDS="0" CONTROL=0 scripts/train_tiny_seeds.sh runs/one   # one seed, no control
#   RIVER="python -m river_core.cli" scripts/train_tiny_seeds.sh   # without the `river` entry point
#   OVERWRITE=1 scripts/train_tiny_seeds.sh   # replace the runs of an earlier call (else they are refused)
set -euo pipefail
OUT=${1:-runs/tiny-seeds}
SEEDS=${SEEDS:-"0 1 2"}
CONTROL=${CONTROL:-1}
CONFIG=${CONFIG:-trainer/configs/tiny-cpu.yaml}
TASKS=${TASKS:-$OUT/synth}
RIVER=${RIVER:-river}
REPLACE=()
if [ "${OVERWRITE:-0}" = 1 ]; then REPLACE=(--overwrite); fi
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}

if [ ! -f "$TASKS/test.jsonl" ]; then
    $RIVER data synth --out "$TASKS" --n 1000 --seed 0 -q
fi
runs=()
for seed in $SEEDS; do
    $RIVER train grpo --config "$CONFIG" --out "$OUT/seed$seed" --set tasks="$TASKS" --set seed="$seed" "${REPLACE[@]}"
    runs+=("$OUT/seed$seed")
done
if [ "$CONTROL" = 1 ]; then
    $RIVER train grpo --config "$CONFIG" --out "$OUT/lr0" --set tasks="$TASKS" --set seed=0 \
        --set sft_lr=0 --set grpo_lr=0 --set sft_epochs=0.05 "${REPLACE[@]}"
fi
if [ ${#runs[@]} -gt 0 ]; then
    $RIVER train report "${runs[@]}" | tee "$OUT/report.txt"
fi
if [ "$CONTROL" = 1 ]; then
    $RIVER train report "$OUT/lr0" | tee "$OUT/report-lr0.txt"
fi
