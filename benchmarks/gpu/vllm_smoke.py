"""vLLM smoke check for a machine with a GPU (never run in CI).

Builds a tiny catalog from a generated population, then evaluates the `vllm` predictor on a few
persons with protocol B in both scoring modes, printing accuracy, parse failures and seconds.

    pip install -e ".[vllm]"
    python benchmarks/gpu/vllm_smoke.py --model /path/to/model-dir [--persons 20]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from indievalue.benchmark.evalset import select_eval_set, write_eval_ids
from indievalue.catalog.build import build_catalog
from indievalue.runs.config import EvalConfig
from indievalue.runs.evaluate import evaluate
from indievalue.synth import generate_population, write_wvs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", required=True, help="local model directory (no hub access)")
    ap.add_argument("--persons", type=int, default=20)
    ap.add_argument("--demos", type=int, default=50)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vllm-smoke-"))
    write_wvs(generate_population(20_000, 0), work / "pop.csv")
    build_catalog(work / "pop.csv", work / "catalog")
    from indievalue.catalog.store import Catalog

    cat = Catalog.load(work / "catalog")
    ids = select_eval_set(cat, 800, 0).person_ids[: args.persons]
    write_eval_ids(work / "ids.txt", ids)
    for mode in ("generate", "loglik"):
        t0 = time.perf_counter()
        config = EvalConfig(predictor="vllm", protocol="B", demos=args.demos,
                            eval_ids_file=work / "ids.txt",
                            predictor_options={"model": args.model, "mode": mode,
                                               "cache": "off"})
        summary = evaluate(cat, config, work / f"run-{mode}")
        print(f"{mode}: overall {summary['overall']:.2f}, parse failures "
              f"{summary['parse_failures']}, {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
