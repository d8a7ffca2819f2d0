#!/usr/bin/env bash
# gpu_check.sh: the CUDA code paths and the paper-scale MNIST protocol on one GPU.
#
# 1. the GPU, Python and torch it runs on (nvidia-smi, versions);
# 2. the tests whose CUDA branches need a GPU: tests/zoo/test_cuda.py (skipped on a CPU), and
#    tests/zoo/test_cnn.py, tests/protocol/test_image_protocol.py (the CNN paths and their CUDA checks);
# 3. benchmarks/cnn_throughput.py --device cuda on the paper's CNN (stacked vs per-model loop);
# 4. `gmia reproduce table1 --dataset mnist --device cuda --scale paper` (the paper's 100 target +
#    100 reference CNNs x 10,000 steps) into a fresh cache, timed, with the per-stage times it prints.
#    It has its own time limit: a run that does not finish is reported as NOT A FULL RUN, with the
#    training progress it reached and the rate that gives.
#
# Run from anywhere: `bash benchmarks/gpu_check.sh`. Nothing in gmia depends on it. Logs go to
# ${OUT:-/tmp/gpu_check} (summary.txt holds the figures). Settings (environment):
#   GPU_CHECK_BUDGET            seconds for the whole script (default 440); the protocol gets what is left
#   GPU_CHECK_PROTOCOL_LIMIT    seconds for the protocol at most (default 360)
#   GPU_CHECK_TEST_LIMIT        seconds for the tests (default 150)
#   GPU_CHECK_THROUGHPUT_LIMIT  seconds for cnn_throughput.py (default 60; 0 skips it)
#   GPU_CHECK_MNIST             a folder of MNIST's four IDX files, plain or .gz (default .gpu-data/mnist,
#                               else ~/.cache/gmia/data/mnist, else `gmia data fetch mnist` downloads it)
#   PYTHON                      the interpreter (default python3)
# Wheels in .whl/ (if any) are installed into a temporary folder first: for a machine without network
# whose Python lacks some of gmia's requirements (benchmarks/README.md, "gpu_check.sh").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

OUT="${OUT:-/tmp/gpu_check}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
BUDGET="${GPU_CHECK_BUDGET:-440}"
PROTOCOL_LIMIT="${GPU_CHECK_PROTOCOL_LIMIT:-360}"
TEST_LIMIT="${GPU_CHECK_TEST_LIMIT:-150}"
THROUGHPUT_LIMIT="${GPU_CHECK_THROUGHPUT_LIMIT:-60}"
WORK="$(mktemp -d /tmp/gpu_check.XXXXXX)"
CACHE="$WORK/cache"
RUN="$WORK/run"
T0=$SECONDS
export PYTHONUNBUFFERED=1
: >"$OUT/summary.txt"

say() { echo "[gpu_check +$((SECONDS - T0))s] $*" | tee -a "$OUT/summary.txt"; }
left() { echo $((BUDGET - (SECONDS - T0))); }
min() { echo $(($1 < $2 ? $1 : $2)); }
MONITOR=""
cleanup() { if [ -n "$MONITOR" ]; then kill "$MONITOR" 2>/dev/null || true; fi; }
trap cleanup EXIT

# ---------------------------------------------------------------- 1. machine and software
say "start $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname), budget ${BUDGET}s, logs in $OUT"
if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>&1 | tee -a "$OUT/summary.txt" || true
else
    say "nvidia-smi: not found"
fi
SITE=""
if ls .whl/*.whl >/dev/null 2>&1; then
    SITE="$WORK/site"
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" .whl/*.whl
    say "installed $(ls .whl/*.whl | wc -l) carried wheels into $SITE"
fi
export PYTHONPATH="${SITE:+$SITE:}$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
"$PY" - <<'EOF' 2>&1 | tee -a "$OUT/summary.txt"
import platform, sys
import torch, numpy, pydantic, typer, rich
import gmia.cli  # noqa: F401  (everything the CLI imports at start is there)
cuda = torch.cuda.is_available()
print(f"python {platform.python_version()} ({sys.executable}), torch {torch.__version__} (CUDA {torch.version.cuda}, "
      f"cuDNN {torch.backends.cudnn.version()}), numpy {numpy.__version__}, pydantic {pydantic.VERSION}, typer {typer.__version__}")
print(f"CUDA available: {cuda}" + (f", {torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}, "
      f"cudnn.allow_tf32={torch.backends.cudnn.allow_tf32}, matmul.allow_tf32={torch.backends.cuda.matmul.allow_tf32}" if cuda else ""))
sys.exit(0 if cuda else 3)
EOF

# ---------------------------------------------------------------- 2. tests
say "tests: tests/zoo/test_cuda.py tests/zoo/test_cnn.py tests/protocol/test_image_protocol.py (limit $(min "$TEST_LIMIT" "$(left)")s)"
rc=0
timeout --kill-after=10 "$(min "$TEST_LIMIT" "$(left)")" "$PY" -m pytest -q -s -p no:cacheprovider --junitxml="$OUT/junit.xml" \
    tests/zoo/test_cuda.py tests/zoo/test_cnn.py tests/protocol/test_image_protocol.py >"$OUT/tests.log" 2>&1 || rc=$?
grep -E "CUDA-CHECK" "$OUT/tests.log" | tee -a "$OUT/summary.txt" || true
grep -E "^(FAILED|ERROR)" "$OUT/tests.log" | tee -a "$OUT/summary.txt" || true
say "tests exit $rc: $(grep -E '(passed|failed|skipped|error)' "$OUT/tests.log" | tail -1)"
[ "$rc" = 124 ] && say "tests: stopped at their time limit"

# ---------------------------------------------------------------- data
if [ -n "${GPU_CHECK_MNIST:-}" ]; then SRC="$GPU_CHECK_MNIST"
elif [ -d .gpu-data/mnist ]; then SRC=.gpu-data/mnist
elif [ -f "$HOME/.cache/gmia/data/mnist/train-images-idx3-ubyte" ]; then SRC="$HOME/.cache/gmia/data/mnist"
else SRC=""; fi
"$PY" -m gmia.cli data fetch mnist --cache-dir "$CACHE" ${SRC:+--source "$SRC"} 2>&1 | tail -1 | tee -a "$OUT/summary.txt"

# ---------------------------------------------------------------- 3. stacked vs per-model CNN throughput
if [ "$THROUGHPUT_LIMIT" -gt 0 ] && [ "$(left)" -gt $((THROUGHPUT_LIMIT + 60)) ]; then
    say "cnn_throughput.py --device cuda --nets paper --steps 50 --loop-models 2 (limit ${THROUGHPUT_LIMIT}s)"
    rc=0
    GMIA_CACHE="$CACHE" timeout --kill-after=10 "$THROUGHPUT_LIMIT" "$PY" benchmarks/cnn_throughput.py --device cuda \
        --nets paper --steps 50 --loop-models 2 --json "$OUT/cnn_throughput.json" >"$OUT/throughput.log" 2>&1 || rc=$?
    tail -2 "$OUT/throughput.log" | tee -a "$OUT/summary.txt"
    say "cnn_throughput exit $rc"
fi

# ---------------------------------------------------------------- 4. the paper-scale MNIST protocol
limit=$(min "$PROTOCOL_LIMIT" $(($(left) - 10)))
if [ "$limit" -lt 30 ]; then
    say "protocol: NOT RUN, only ${limit}s of the budget left"
    exit 0
fi
if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used,power.draw --format=csv,noheader -l 5 >"$OUT/gpu.csv" 2>/dev/null &
    MONITOR=$!
fi
say "protocol: gmia reproduce table1 --dataset mnist --device cuda --scale paper (limit ${limit}s)"
rc=0
start=$("$PY" -c "import time; print(time.time())")
COLUMNS=200 timeout --signal=INT --kill-after=20 "$limit" "$PY" -m gmia.cli reproduce table1 --dataset mnist --device cuda \
    --scale paper --cache-dir "$CACHE" --out "$RUN" >"$OUT/protocol.log" 2>&1 || rc=$?
wall=$("$PY" -c "import time; print(f'{time.time() - $start:.1f}')")
cleanup
MONITOR=""
if [ "$rc" = 0 ]; then
    say "protocol: FULL RUN, wall time ${wall}s"
    grep -E -A12 "Accuracy \(mean" "$OUT/protocol.log" | head -24 | tee -a "$OUT/summary.txt" || true
    grep -E "Time per stage" "$OUT/protocol.log" | tee -a "$OUT/summary.txt" || true
    cp "$RUN/results.json" "$OUT/results.json" 2>/dev/null || true
else
    say "protocol: NOT A FULL RUN (exit $rc$([ "$rc" = 124 ] && echo ': stopped at its time limit'), after ${wall}s)"
    tail -5 "$OUT/protocol.log" | tee -a "$OUT/summary.txt"
fi
# Training progress (one line per tenth of each stack) and the rate it gives.
"$PY" - "$OUT/protocol.log" "$wall" <<'EOF' 2>&1 | tee -a "$OUT/summary.txt"
import re, sys
text = open(sys.argv[1], errors="replace").read()
lines = re.findall(r"training ([\w ,-]+?): (\d+)/(\d+) model-steps, (\d+)s", text)
last = {}
for name, done, total, sec in lines:
    print(f"  progress: {name} {done}/{total} model-steps after {sec}s")
    last[name] = (int(done), int(total), int(sec))
for name, (done, total, sec) in last.items():
    if sec and done:
        rate = done / sec
        print(f"  rate of {name}: {rate:,.0f} model-steps/s ({rate / 100:,.1f} steps/s of a stack of 100); all "
              f"{total:,} model-steps at that rate: {total / rate:,.0f}s")
if not lines:
    print("  progress: no training progress line (less than a tenth of a stack done, or nothing trained)")
gpu = sys.argv[1].replace("protocol.log", "gpu.csv")
try:
    util = [float(r.split(",")[1].strip().split()[0]) for r in open(gpu) if r.strip()]
    mem = [float(r.split(",")[2].strip().split()[0]) for r in open(gpu) if r.strip()]
    if util:
        print(f"  GPU during the protocol: utilisation mean {sum(util) / len(util):.0f}% (max {max(util):.0f}%), "
              f"memory up to {max(mem):,.0f} MiB, {len(util)} samples")
except (OSError, ValueError, IndexError):
    pass
EOF
say "done in $((SECONDS - T0))s"
