#!/usr/bin/env bash
# The README's Leeds figures: split ../shared/data/leeds 80/20 (seed 42), train the tutorial CNN at
# 75×75 for 50 epochs with the tutorial's augmentation on CPU, evaluate the exported model.
set -euo pipefail
cd "$(dirname "$0")/.."
LEEDS=${LEEDS:-../shared/data/leeds}
WORK=${WORK:-runs/leeds}
cargo build --release -p vlinder-trainer
VLINDER=target/release/vlinder
[ -d "$WORK/split" ] || $VLINDER split "$LEEDS" "$WORK/split" --validation 0.2 --seed 42
$VLINDER train "$WORK/split" --out "$WORK/baseline" --epochs 50 --optimizer rmsprop --seed 42 \
  --image-size 75 --batch-size 32 ${RESUME:+--resume}
$VLINDER evaluate --model "$WORK/baseline/model.vlinder" "$WORK/split/validation" | tee "$WORK/baseline/evaluation.txt"
