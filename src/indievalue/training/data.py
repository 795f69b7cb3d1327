"""Building an IndieValueReasoner training set from a catalog (``indievalue train-data``).

The eval persons are drawn exactly as ``indievalue evaluate`` draws them (same size, same seed)
or read from an id file, and excluded: every unit samples from the remaining training pool.
Examples are rendered in chunks and streamed to a Hugging Face dataset (``save_to_disk``)
and/or JSONL; the output directory appears atomically, with ``data_spec.json`` (what was built),
``stats.json`` (counts and token statistics) and ``eval_ids.txt`` (the excluded persons).

``training/datadir.py`` reads such a directory back (checked) for ``indievalue train``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from indievalue.benchmark.evalset import (
    read_eval_ids,
    select_eval_set,
    training_rows,
    write_eval_ids,
)
from indievalue.catalog.store import Catalog
from indievalue.errors import IndieValueError, require
from indievalue.fsutil import atomic_dir, write_json
from indievalue.lm.prompts import PromptTemplates
from indievalue.runs.spec import eval_ids_digest, provenance
from indievalue.training.presets import get_preset
from indievalue.training.render import iter_examples
from indievalue.training.sampling import UnitSample, sample_unit, unit_pool, unit_rng
from indievalue.training.tokens import TokenStats, count_tokens, load_tokenizer
from indievalue.training.units import Unit, parse_units

DataFormat = Literal["hf", "jsonl"]
DATA_FORMAT = "indievalue-training-data"
# 1: the layout of the first release; its data_spec.json had no format fields (read as 1)
DATA_FORMAT_VERSION = 1
HF_DIR = "hf"
JSONL_FILE = "train.jsonl"
STATS_FILE = "stats.json"
DATA_SPEC_FILE = "data_spec.json"
EVAL_IDS_FILE = "eval_ids.txt"
# progress(examples done, examples total)
DataProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class DataRequest:
    """What to build: a preset or an explicit unit list, and how."""

    preset: str | None = None
    units: str | None = None  # comma-separated unit names, instead of a preset
    seed: int = 0
    eval_size: int | None = None  # None: the catalog spec's
    eval_ids_file: Path | None = None
    tokenizer: Path | None = None
    max_length: int = 4096
    formats: tuple[DataFormat, ...] = ("hf",)
    prompt_template: Path | None = None

    def resolve(self) -> tuple[str, str, tuple[Unit, ...]]:
        """(mixture name, paper name, units)."""
        if (self.preset is None) == (self.units is None):
            raise IndieValueError("give exactly one of --preset and --units")
        if self.preset is not None:
            p = get_preset(self.preset)
            return p.name, p.paper, p.units
        units = parse_units(self.units or "")
        return "custom", "", units


def hf_features() -> Any:
    import datasets

    text = datasets.Value("string")
    return datasets.Features({
        "messages": datasets.List({"role": text, "content": text}),
        "person_id": datasets.Value("int64"),
        "probe_qid": text,
        "demo_qids": datasets.List(text),
        "gold": datasets.Value("int8"),
        "unit": text,
        "demo_form": text,
        "probe_form": text,
        "n_demos": datasets.Value("int16"),
        "n_tokens": datasets.Value("int32"),
    })


def build_training_data(catalog: Catalog | str | Path, out: str | Path, request: DataRequest,
                        *, overwrite: bool = False,
                        progress: DataProgress | None = None) -> dict[str, Any]:
    """Sample, render and write the training set; returns the statistics (stats.json)."""
    started = time.perf_counter()
    cat = catalog if isinstance(catalog, Catalog) else Catalog.load(catalog)
    name, paper, units = request.resolve()
    if not request.formats:
        raise IndieValueError("choose at least one output format (hf, jsonl)")
    if Path(out).exists() and not overwrite:  # before the sampling, not after
        raise IndieValueError(f"{out} already exists (pass --overwrite to replace it)")
    if request.max_length < 1:
        raise IndieValueError("--max-length must be positive")
    if "hf" in request.formats:
        _require_datasets()
    templates = PromptTemplates.from_file(request.prompt_template)
    tokenizer = load_tokenizer(request.tokenizer) if request.tokenizer else None
    evalset = (read_eval_ids(request.eval_ids_file, cat, request.seed) if request.eval_ids_file
               else select_eval_set(cat, request.eval_size, request.seed))
    train = training_rows(cat, evalset.person_ids)
    rngs = [unit_rng(request.seed, u) for u in units]
    samples = [sample_unit(cat, unit_pool(cat, train, u), u, rng)
               for u, rng in zip(units, rngs, strict=True)]
    total = sum(len(s) for s in samples)
    token_stats = TokenStats(request.max_length)

    def chunks() -> Iterator[list[dict[str, Any]]]:
        done = 0
        for chunk in iter_examples(cat, samples, rngs, templates):
            if tokenizer is not None:
                counts = count_tokens(tokenizer, chunk)
                for rec, n in zip(chunk, counts.tolist(), strict=True):
                    rec["n_tokens"] = n
                token_stats.add(chunk[0]["unit"], counts)
            done += len(chunk)
            yield chunk
            if progress:
                progress(done, total)

    ids = [int(i) for i in evalset.person_ids]
    with atomic_dir(out, overwrite=overwrite) as tmp:
        write_eval_ids(tmp / EVAL_IDS_FILE, evalset.person_ids)
        write_json(tmp / DATA_SPEC_FILE, {
            "format": DATA_FORMAT, "format_version": DATA_FORMAT_VERSION,
            "catalog": str(cat.path), "catalog_hash": cat.content_hash,
            "synthetic": cat.synthetic, "mixture": name, "paper": paper,
            "units": [u.name for u in units], "seed": request.seed,
            "eval_ids_sha256": eval_ids_digest(ids), "n_eval": len(ids),
            "eval_ids_from": str(request.eval_ids_file) if request.eval_ids_file
            else f"drawn: size {request.eval_size}, seed {request.seed}",
            "prompt_template": str(request.prompt_template) if request.prompt_template
            else None,
            "formats": list(request.formats), "provenance": provenance(),
        })
        _write(tmp, chunks(), request.formats, _fingerprint(cat, units, request))
        stats = _stats(cat, samples, train, ids, token_stats, request,
                       time.perf_counter() - started)
        write_json(tmp / STATS_FILE, stats)
    return stats


def _require_datasets() -> None:
    require("datasets", purpose="the hf format (or use --format jsonl)",
            install="'indievalue[hf]'")


def _fingerprint(cat: Catalog, units: tuple[Unit, ...], request: DataRequest) -> str:
    key = json.dumps([cat.content_hash, [u.name for u in units], request.seed,
                      str(request.eval_ids_file), request.eval_size, str(request.tokenizer)])
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _write(tmp: Path, chunks: Iterator[list[dict[str, Any]]], formats: tuple[str, ...],
           fingerprint: str) -> None:
    """One pass over the chunks: JSONL lines as they come, the HF dataset through
    ``Dataset.from_generator`` (Arrow, written in batches) and then ``save_to_disk``."""
    with contextlib.ExitStack() as stack:
        jsonl = stack.enter_context(open(tmp / JSONL_FILE, "w", encoding="utf-8")) \
            if "jsonl" in formats else None

        def records() -> Iterator[dict[str, Any]]:
            for chunk in chunks:
                if jsonl is not None:
                    jsonl.write("".join(json.dumps(r, ensure_ascii=False) + "\n"
                                        for r in chunk))
                yield from chunk

        if "hf" not in formats:
            for _ in records():
                pass
            return
        import datasets
        from datasets.utils import logging as ds_logging

        cache = tmp / ".cache"
        was_on = ds_logging.is_progress_bar_enabled()
        ds_logging.disable_progress_bar()  # the caller shows its own progress
        try:
            ds = datasets.Dataset.from_generator(records, features=hf_features(),
                                                 cache_dir=str(cache), fingerprint=fingerprint)
            ds.save_to_disk(str(tmp / HF_DIR), max_shard_size="500MB")
            del ds
        finally:
            if was_on:
                ds_logging.enable_progress_bar()
            shutil.rmtree(cache, ignore_errors=True)


def _stats(cat: Catalog, samples: list[UnitSample], train: np.ndarray, eval_ids: list[int],
           tokens: TokenStats, request: DataRequest, seconds: float) -> dict[str, Any]:
    n_demog = cat.persons["n_valid_demographics"].to_numpy()
    per_unit = {}
    for s in samples:
        demos = n_demog[s.rows] if s.unit.kind == "demographics" else s.counts
        per_unit[s.unit.name] = {
            "description": s.unit.describe(),
            "examples": len(s),
            "per_question": s.unit.n,
            "questions": len(np.unique(s.probe_qidx)),
            "distinct_persons": len(np.unique(s.rows)),
            "demonstrations": {"min": int(demos.min()), "mean": round(float(demos.mean()), 2),
                               "max": int(demos.max())},
            **({"tokens": tokens.unit(s.unit.name)} if request.tokenizer else {}),
        }
    total = sum(len(s) for s in samples)
    all_rows = np.concatenate([s.rows for s in samples]) if samples else np.zeros(0, int)
    return {
        "examples": total,
        "per_question": sum(s.unit.n for s in samples),
        "units": per_unit,
        "training_pool": len(train),
        "eval_persons": len(eval_ids),
        "distinct_persons": len(np.unique(all_rows)),
        "tokenizer": str(request.tokenizer) if request.tokenizer else None,
        "max_length": request.max_length,
        "tokens": tokens.overall() if request.tokenizer else None,
        "seconds": round(seconds, 2),
        "examples_per_second": round(total / seconds, 1) if seconds > 0 else None,
    }
