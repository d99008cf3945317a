#!/usr/bin/env bash
# One call of a lent GPU machine (the device tool) for the work only a GPU finishes in a session: `check` runs
# scripts/gpu_check.py (what `make gpu-check` runs), `l0-native` runs Figure 11's grid (prunekit.experiments.l0_native)
# with one process per run. The machine has PyTorch but no network and no ../shared, so:
#
#   here, once:   PRUNEKIT_DATA=../shared/data bash scripts/device_run.sh pack
#                 (MNIST's four IDX files into .device/mnist.tar.gz, about 11 MB; .device/ is git-ignored)
#   there:        device run, carry [".device"], e.g. command "bash scripts/device_run.sh check" (a few minutes)
#                 or "bash scripts/device_run.sh l0-native" (about 8 minutes on an H100, an estimate); it uses the
#                 machine's python3 with this checkout on PYTHONPATH and leaves $OUT/device.tar.gz (records and logs:
#                 the tool returns at most 8 files) and $OUT/summary.txt
#   back here:    bash scripts/device_run.sh unpack <files_at>/device.tar.gz   (records into results/, logs printed)
#
# The two are separate calls so gpu_check's timings never share the card with training. L0_NATIVE_SECONDS bounds
# each run (default 540 s); a run cut off stores nothing and a later call runs it again (stored runs are skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

unpack_mnist() {
    local data
    data=$(mktemp -d)
    tar xzf .device/mnist.tar.gz -C "$data"
    export PRUNEKIT_DATA=$data PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 MPLBACKEND=Agg
}

case "${1:-}" in
pack)
    : "${PRUNEKIT_DATA:?set PRUNEKIT_DATA to the folder holding MNIST/raw}"
    mkdir -p .device
    tar czf .device/mnist.tar.gz -C "$PRUNEKIT_DATA" MNIST/raw
    ls -l .device/mnist.tar.gz
    ;;
check | l0-native)
    : "${OUT:?the device tool sets OUT; for a trial here, set it to an empty folder}"
    unpack_mnist
    logs=$(mktemp -d)
    if [ "$1" = check ]; then
        status=0
        "$PY" scripts/gpu_check.py > "$logs/gpu-check.log" 2>&1 || status=$?
        echo "gpu_check exit status $status" > "$logs/summary.txt"
        tar czf "$OUT/device.tar.gz" -C "$logs" .
    else
        profile=${L0_NATIVE_PROFILE:-l0-native}
        store=${DEVICE_RESULTS:-results}/$profile
        n=$("$PY" -c "from prunekit.experiments.l0_native import l0_native_configs as c; print(len(c('$profile')))")
        pids=()
        for i in $(seq 0 $((n - 1))); do
            timeout "${L0_NATIVE_SECONDS:-540}" "$PY" -m prunekit.experiments.l0_native --profile "$profile" \
                --results "$store" --worker "$i" --workers "$n" > "$logs/l0-native-$i.log" 2>&1 &
            pids+=("$!")
        done
        failed=0
        for pid in "${pids[@]}"; do wait "$pid" || failed=$((failed + 1)); done
        echo "l0-native ($profile): $n workers, $failed failed or cut off" > "$logs/summary.txt"
        mkdir -p "$store"
        tar czf "$OUT/device.tar.gz" -C "$(dirname "$store")" --transform "s,^,results/," "$profile" -C "$logs" .
    fi
    cp "$logs/summary.txt" "$OUT/summary.txt"
    cat "$OUT/summary.txt"
    ;;
unpack)
    archive=${2:?name the device.tar.gz the device tool brought back}
    tar xzf "$archive" --wildcards 'results/*'
    tar xzf "$archive" -O --wildcards './*.txt' './*.log' 2>/dev/null | tail -n 40
    ;;
*)
    echo "usage: bash scripts/device_run.sh pack | check | l0-native | unpack ARCHIVE" >&2
    exit 2
    ;;
esac
