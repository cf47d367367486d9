#!/usr/bin/env bash
# The page's default model (www/model/default.vlinder) and the figures in the README's
# "Transfer learning" section: EfficientNet-Lite0 with its ImageNet backbone frozen, a 4-class
# head (the three look-alikes + "other") trained on ../shared's field-guide and Leeds photos,
# evaluated by 5-fold cross-validation repeated 3 times (every photo unseen once per repeat).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p vlinder-trainer
VLINDER=target/release/vlinder
scripts/four-class-data.sh runs/four-class/data
$VLINDER import-backbone --out runs/lite0-imagenet.vlinder
$VLINDER train runs/four-class/data --arch lite0 --backbone runs/lite0-imagenet.vlinder \
  --out runs/four-class/lite0 --epochs 40 --folds 5 --repeats 3 --feature-passes 3 --seed 42 \
  --precision f16 --likely "${LIKELY:-0.7}" --possible "${POSSIBLE:-0.5}"
cp runs/four-class/lite0/model.vlinder www/model/default.vlinder
