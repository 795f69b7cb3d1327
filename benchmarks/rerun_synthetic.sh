#!/usr/bin/env bash
# Rerun every benchmark whose figures depend on the synthetic population, into one folder:
# after a new generator version, each BENCHMARKS.md section named below is remeasured from it.
#
#   bash benchmarks/rerun_synthetic.sh OUT [BASELINE_REV]
#
# OUT/calibration-seed0.md, calibration-seed2026.md  "Synthetic population" (calibration report)
# OUT/main.md                                         "Main job" / "Performance" (vs BASELINE_REV)
# OUT/vm.md                                           "Value model" (tables, d curve, pool sizes)
# OUT/vm2026.md                                       "Another population: seed 2026"
# OUT/ev-{logistic,factor}-{polar,refined}/           "The synthetic default with the two
#                                                      classical baselines"
# OUT/elicit/                                         "Active elicitation" (curves)
# About an hour on 2 idle cores; each step's log is OUT/<step>.log.
set -euo pipefail
out=${1:?usage: rerun_synthetic.sh OUT [BASELINE_REV]}
base=${2:-HEAD~1}
mkdir -p "$out"
cd "$(dirname "$0")/.."
step() { echo "== $(date +%T) $*"; }
step calibration
python tools/calibrate_synth.py --report-only --out "$out/calibration-seed0.md" > "$out/calibration.log" 2>&1
python tools/calibrate_synth.py --report-only --seed 2026 --report-n 97000 \
    --out "$out/calibration-seed2026.md" >> "$out/calibration.log" 2>&1
step main job
python benchmarks/bench_main.py --baseline "$base" --out "$out/main.md" > "$out/main.log" 2>&1
step the default catalog
indievalue run --out "$out/run" > "$out/run.log" 2>&1
step value model
python benchmarks/bench_value_model.py --catalog "$out/run/catalog" --work "$out/vm-work" \
    --out "$out/vm.md" --threads 2 > "$out/vm.log" 2>&1
step value model, seed 2026
indievalue synth --persons 97000 --seed 2026 --out "$out/seed2026.csv" > /dev/null
indievalue catalog build --wvs "$out/seed2026.csv" --out "$out/catalog2026" > /dev/null
python benchmarks/bench_value_model.py --catalog "$out/catalog2026" --work "$out/vm2026-work" \
    --out "$out/vm2026.md" --no-curve --no-pools --threads 2 > "$out/vm2026.log" 2>&1
step classical baselines
for p in logistic factor; do
  for f in polar refined; do
    indievalue evaluate --catalog "$out/run/catalog" --predictor "$p" --form "$f" \
        --eval-ids "$out/run/eval_ids.txt" --out "$out/ev-$p-$f" > "$out/ev-$p-$f.log" 2>&1
  done
done
step elicitation
indievalue analyze elicitation --catalog "$out/run/catalog" \
    --option "model_dir=$out/vm-work/models/pool-all" \
    --out "$out/elicit" --threads 2 > "$out/elicit.log" 2>&1
step done
