#!/usr/bin/env bash
# The curriculum of the README for one target: the one-amount set twice (201 steps each, the second from the
# first's adapter: the transition's timing varies), then the battery's curves (600 steps). Logs in $EXP_DIR.
# usage: bash curriculum.sh crra:r=1 r1
set -euo pipefail
pref=$1; tag=$2; d=${EXP_DIR:-/tmp/exp}
cd "$(dirname "$0")"
[ -f "$d/simple_${tag}a_lora.pt" ] || python train.py --pref "$pref" --lora 16 --lr 2e-3 --epochs 6.7 --two --train simple \
    --eval_every 100 --save "$d/simple_${tag}a_lora.pt" > "$d/${tag}_1a.log" 2>&1
[ -f "$d/simple_${tag}b_lora.pt" ] || python train.py --pref "$pref" --lora 16 --lr 2e-3 --epochs 6.7 --two --train simple \
    --eval_every 100 --init "$d/simple_${tag}a_lora.pt" --save "$d/simple_${tag}b_lora.pt" > "$d/${tag}_1b.log" 2>&1
[ -f "$d/${tag}_2_lora.pt" ] || python train.py --pref "$pref" --lora 16 --lr 2e-3 --epochs 9.6 --two --train curves1000 \
    --eval_every 150 --init "$d/simple_${tag}b_lora.pt" --save "$d/${tag}_2_lora.pt" > "$d/${tag}_2.log" 2>&1
