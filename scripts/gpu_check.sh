#!/usr/bin/env bash
# The whole GPU check as one call of the device tool (`run` with carry [".whl"]):
#
#   bash scripts/gpu_check.sh --minutes 2 --seeds 0 1 --videos 400   # run timeout_s 540
#
# 1. unpacks .whl/site.tar.xz (the packages that machine's image lacks, made here by
#    scripts/pack_device_wheels.sh; GPU_CHECK_WHEELS names another file) onto PYTHONPATH, if it
#    is there;
# 2. runs scripts/gpu_check.py with the arguments given, under `timeout` (GPU_CHECK_SECONDS,
#    default 480) so that a slow loop cannot eat the lease;
# 3. copies the small results, flat, to $OUT (what the device tool brings back: at most 8
#    files of at most 16 MB): gpu_check.json (written after each phase, so a cut run still has
#    one), each seed's log.jsonl (the held-out curve), the console log, and the first seed's
#    model in half precision split into 15 MB parts (`cat model_s0.pt.part-* > model.pt`
#    rebuilds a file that posesynth's load_model, predict and the diagnose scripts read).
# The data and the runs stay in GPU_CHECK_DIR (default /tmp/gpu_check), outside $OUT.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
work=${GPU_CHECK_DIR:-/tmp/gpu_check}
out=${OUT:-$work/out}
mkdir -p "$out"
wheels=${GPU_CHECK_WHEELS:-$here/.whl/site.tar.xz}
if [ -f "$wheels" ]; then
    mkdir -p /tmp/site && tar -xJf "$wheels" -C /tmp/site || exit 1
    export PYTHONPATH=/tmp/site:$here${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONUNBUFFERED=1 TQDM_DISABLE=1
command -v nvidia-smi > /dev/null && nvidia-smi -L
python=${PYTHON:-python3}
timeout "${GPU_CHECK_SECONDS:-480}" "$python" "$here/scripts/gpu_check.py" --out "$work" "$@" > "$out/gpu_check.log" 2>&1
status=$?
echo "gpu_check.py exit status $status" >> "$out/gpu_check.log"
tail -n 25 "$out/gpu_check.log"
[ -f "$work/gpu_check.json" ] && cp "$work/gpu_check.json" "$out/"
for log in "$work"/learning_s*/run/log.jsonl; do
    [ -f "$log" ] && cp "$log" "$out/$(basename "$(dirname "$(dirname "$log")")").log.jsonl"
done
first=$(ls "$work"/model_s*.pt 2> /dev/null | head -n 1)
[ -n "$first" ] && split -b 15M -d "$first" "$out/$(basename "$first").part-"
exit $status
