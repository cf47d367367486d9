#!/usr/bin/env bash
# The default model's data: the three look-alikes from ../shared/data/field-guides, and "other" =
# every other species there plus all of ../shared/data/leeds. Builds a folder of symbolic links
# (the photos are for internal use: never copy them into the repository).
#   scripts/four-class-data.sh [OUT]      (default runs/four-class/data)
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared/data}
OUT=${1:-runs/four-class/data}
TARGETS="coenonympha_pamphilus maniola_jurtina pyronia_tithonus"
rm -rf "$OUT" && mkdir -p "$OUT/other"
for species in $TARGETS; do
  mkdir -p "$OUT/$species"
  for photo in "$SHARED/field-guides/$species"/*; do ln -s "$(realpath "$photo")" "$OUT/$species/"; done
done
for dir in "$SHARED"/field-guides/*/ "$SHARED"/leeds/*/; do
  species=$(basename "$dir")
  case " $TARGETS " in *" $species "*) continue ;; esac
  for photo in "$dir"*; do ln -s "$(realpath "$photo")" "$OUT/other/$(basename "$(dirname "$photo")")__$(basename "$photo")"; done
done
for d in "$OUT"/*/; do printf '%6d  %s\n' "$(ls "$d" | wc -l)" "$(basename "$d")"; done
