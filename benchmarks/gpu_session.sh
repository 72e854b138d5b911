#!/usr/bin/env bash
# One session on one lent NVIDIA GPU (designed for an H200 with 16 CPU cores), about 8.5 minutes of wall
# time, results under $OUT: the GPU check, and beside it on the same GPU the zoo entries a CPU budget
# limits, trained from their recipes.
#
#   bash benchmarks/gpu_session.sh --prepare     here, once, before the session: MNIST (compressed, 11 MB)
#                                                into runs/gpu-carry/, which the session carries
#   bash benchmarks/gpu_session.sh               on the GPU machine, from the repository root
#   OUT=/tmp/s bash benchmarks/gpu_session.sh --dry-run    the same steps on the CPU in a minute or two:
#                                                tiny budgets, gpu_check --smoke (tests/test_gpu_check.py)
#
# Timeline: 0:00 the machine and versions; 0:00-~3:00 gpu_check's throughput grid with the GPU to itself
# (cells warmed up and compiled by parallel workers, timed one at a time); then, all at once until
# ~8:15, gpu_check's DCGAN time-to-target and PixelCNN NLL phases and one training per GPU recipe
# (recipes/{pixelcnn,gated-pixelcnn,pixelrnn,dcgan,cgan-conv,made}-mnist.yaml, those that exist; nade-mnist is
# trained to early stopping on a CPU, and its sequential recurrence gains little on a GPU), each
# through scripts/build_zoo_entry.py --train-only (which records the machine in provenance.json);
# a hard deadline sends SIGTERM to whatever still runs at 8:20 (a genzoo run saves and exports on
# SIGTERM). Last, the runs' model/, config.yaml, log.jsonl, provenance.json and samples.png are
# packed into $OUT/zoo-runs.tar.gz; the entries are built from them afterwards, on any machine:
#   tar xzf zoo-runs.tar.gz -C runs/ && python scripts/build_zoo_entry.py NAME --run runs/gpu-zoo/RUN --nll
#
# $OUT receives (at most 8 files): gpu_check.json, gpu_check.md, zoo-runs.tar.gz, ssgan-run.tar.gz (the
# semi-supervised GAN of recipes/ssgan-salimans2016.yaml for the minutes left: a reproduction), session.log.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
MODE=run
case "${1:-}" in
  --prepare) MODE=prepare ;;
  --dry-run) MODE=dry ;;
  "") ;;
  *) echo "usage: bash benchmarks/gpu_session.sh [--prepare | --dry-run]" >&2; exit 2 ;;
esac
CARRY=$ROOT/runs/gpu-carry

if [ "$MODE" = prepare ]; then
  PY=${PY:-$ROOT/.venv/bin/python}
  "$PY" - "$CARRY/genzoo-data/mnist" <<'EOF' || exit 1
import sys
from pathlib import Path
import numpy as np
from genzoo.data import DataConfig, load_dataset
from genzoo.data.mnist import cache_path
load_dataset(DataConfig(name="mnist"), "train")  # make sure the verified cache is there
out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
for split in ("train", "test"):
    with np.load(cache_path(split)) as d:
        with open(out / f"{split}.npz", "wb") as f:
            np.savez_compressed(f, x=d["x"], y=d["y"])  # read back and sha256-checked by genzoo's loader
print(out)
EOF
  du -sh "$CARRY"
  exit 0
fi

OUT=${OUT:-$ROOT/runs/gpu-session-out}
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/gpu-session.XXXXXX)
RUNS=$WORK/gpu-zoo
mkdir -p "$RUNS"
LOG=$OUT/session.log
export PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH}
export PYTHONUNBUFFERED=1
T0=$(date +%s)
say() { echo "[$(( $(date +%s) - T0 ))s] $*" | tee -a "$LOG"; }

if [ "$MODE" = dry ]; then
  PY=${PY:-$ROOT/.venv/bin/python}
  export OMP_NUM_THREADS=1
  CHECK_THROUGHPUT=(--smoke --models gan vae --batches 8)
  CHECK_REST=(--smoke)
  TRAIN_EXTRA=(--set train.steps=2 --set train.batch_size=8 --set train.device=cpu --set train.eval_n=100)
  RECIPES=${RECIPES:-pixelcnn dcgan}  # two of the six: one likelihood model, the GAN whose D is left out
  DEADLINE=${DEADLINE:-600}
else
  export OMP_NUM_THREADS=2  # eight processes at once on 16 cores
  PY=${PY:-python3}
  # The carried MNIST (bash benchmarks/gpu_session.sh --prepare); the machine has no network.
  if [ -f "$CARRY/genzoo-data/mnist/train.npz" ]; then export GENZOO_DATA=$WORK/genzoo-data; cp -r "$CARRY/genzoo-data" "$WORK/"; fi
  CHECK_THROUGHPUT=(--budget 165 --workers 8 --compile-batches 256)
  CHECK_REST=(--dcgan-minutes 2.5 --dcgan-eval-every 1500 --pixelcnn-minutes 3)
  TRAIN_EXTRA=()
  RECIPES=${RECIPES:-pixelcnn gated-pixelcnn pixelrnn dcgan cgan-conv made ssgan-salimans2016}
  DEADLINE=${DEADLINE:-500}  # seconds after the start; the recipes' 4.5 minutes start at about 3:10
fi
export GENZOO_DATA=${GENZOO_DATA:-$HOME/.cache/genzoo}

say "mode $MODE; out $OUT; python $PY"
{ nvidia-smi 2>&1 || echo "no nvidia-smi"; "$PY" -c "import torch, sys; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'gpu', torch.cuda.is_available() and torch.cuda.get_device_name(0), 'python', sys.version.split()[0])"; } >> "$LOG" 2>&1

# 1. The throughput grid, with the GPU to itself.
say "gpu_check: env, throughput"
timeout -s TERM $((DEADLINE - 60)) "$PY" benchmarks/gpu_check.py --out "$OUT" --phases env,throughput "${CHECK_THROUGHPUT[@]}" >> "$LOG" 2>&1 \
  || say "gpu_check throughput exited with $?"

# 2. Everything else at once: gpu_check's two training phases and the zoo trainings. The LeNet features
# of the MNIST test set (what every FID is measured against) are cached first, so the parallel runs
# read them rather than all computing and writing them at once.
say "caching the MNIST test set's LeNet features"
"$PY" -c "from genzoo.metrics.cache import reference; from genzoo.metrics.features import feature_extractor; reference(feature_extractor('lenet'), 'mnist', 'test', progress=False)" >> "$LOG" 2>&1
say "gpu_check: dcgan, pixelcnn; zoo trainings"
pids=()
left() { local l=$((DEADLINE - $(date +%s) + T0)); echo $(( l > 30 ? l : 30 )); }  # seconds to the deadline
timeout -s TERM "$(left)" "$PY" benchmarks/gpu_check.py --out "$OUT" --runs "$WORK/check-runs" --phases dcgan,pixelcnn "${CHECK_REST[@]}" \
  >> "$LOG" 2>&1 &
pids+=($!)
for name in $RECIPES; do
  entry=$name-mnist  # a zoo recipe; else a reproduction's recipe, recipes/NAME.yaml
  [ -f "recipes/$entry.yaml" ] || entry=$name
  [ -f "recipes/$entry.yaml" ] || continue
  ( timeout -s TERM "$(left)" "$PY" scripts/build_zoo_entry.py "$entry" --train-only --runs "$RUNS" \
      "${TRAIN_EXTRA[@]}" > "$WORK/$name.out" 2>&1; echo "rc=$?" >> "$WORK/$name.out" ) &
  pids+=($!)
  say "training $entry (pid $!)"
done
for pid in "${pids[@]}"; do wait "$pid"; done
for f in "$WORK"/*.out; do [ -f "$f" ] && { echo "== $f"; tail -5 "$f"; } >> "$LOG"; done

# 3. Pack what building the entries needs: no checkpoints (optimizer state), no progress grids; the
# weights as float16 and a GAN's without its D (what the entries store: the build gives the same
# entry from these).
say "packing runs"
"$PY" - "$RUNS" >> "$LOG" 2>&1 <<'EOF'
import sys
from pathlib import Path
import torch
from safetensors.torch import load_file, save_file
import json
for f in sorted(Path(sys.argv[1]).glob("*/model/model.safetensors")):
    state = load_file(str(f))
    meta = json.loads((f.parent / "config.json").read_text())
    if meta.get("genzoo_model") == "ssgan":
        continue  # a reproduction, not an entry: D is the classifier, kept whole in float32
    if any(k.startswith("G.") for k in state) and any(k.startswith("D.") for k in state):
        state = {k: v for k, v in state.items() if not k.startswith("D.")}  # a GAN's entry keeps G only
        meta["omitted"] = ["D."]
        (f.parent / "config.json").write_text(json.dumps(meta, indent=2))
    save_file({k: v.half() if v.dtype == torch.float32 else v for k, v in state.items()}, str(f))
    print(f, f.stat().st_size)
EOF
( cd "$WORK" && find gpu-zoo -maxdepth 2 -path 'gpu-zoo/ssgan-*' -prune -o \( -name model -o -name config.yaml -o -name log.jsonl -o -name provenance.json \
    -o -name samples.png \) -print0 | tar czf "$OUT/zoo-runs.tar.gz" --null -T - ) || say "packing failed"
# The semi-supervised GAN's run (float32, D included: 8.5 MB) in a file of its own.
( cd "$WORK" && ls -d gpu-zoo/ssgan-* > /dev/null 2>&1 && tar czf "$OUT/ssgan-run.tar.gz" --exclude checkpoints \
    --exclude samples gpu-zoo/ssgan-* ) || true
ls -la "$OUT" >> "$LOG"
size=$(stat -c %s "$OUT/zoo-runs.tar.gz" 2>/dev/null || echo 0)
[ "$size" -le $((16 * 1024 * 1024)) ] || say "zoo-runs.tar.gz is $size bytes, over the 16 MiB a file may bring back"
say "done"
rm -rf "$WORK"
