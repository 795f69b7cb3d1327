"""Reading a catalog directory: the Python API every later stage uses."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from indievalue.catalog import integrity
from indievalue.catalog.spec import FORMS, Form, StatementSpec
from indievalue.errors import IndieValueError, require


def render_demonstration(statement: str) -> str:
    """A known statement as shown to a predictor: ``# `` and an upper-case first letter."""
    return "# " + statement[:1].upper() + statement[1:]


class Catalog:
    """A built catalog. Construction reads and checks only the manifest; each table is read on
    first use and checked then (catalog/integrity.py), before any caller sees it."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.manifest: dict[str, Any] = integrity.read_manifest(self.path)
        # The checked content of each file, kept apart from the public attributes (which
        # callers may replace) so cross-file checks always compare what is on disk.
        self._tables: dict[str, pa.Table] = {}
        self._matrices: dict[str, np.ndarray] = {}

    @classmethod
    def load(cls, path: str | Path) -> Catalog:
        return cls(path)

    # -- identity ------------------------------------------------------------------------
    @property
    def synthetic(self) -> bool:
        return bool(self.manifest.get("synthetic", False))

    @property
    def content_hash(self) -> str:
        """Identifies the catalog's data: the source file's hash plus the spec's hash."""
        return f"{self.manifest['source_sha256'][:16]}-{self.manifest['spec_hash'][7:23]}"

    @cached_property
    def spec(self) -> StatementSpec:
        return integrity.read_spec(self.path, self.manifest)

    # -- tables --------------------------------------------------------------------------
    def _frame(self, name: Literal["persons", "demographics"]) -> pa.Table:
        """The checked Arrow table of ``<name>.parquet`` (read once)."""
        if name not in self._tables:
            path = self.path / f"{name}.parquet"
            table = integrity.read_table(path, self.manifest["persons"])
            if name == "persons":
                integrity.check_persons(path, table)
            else:
                integrity.check_demographics(path, table, self.spec, self._frame("persons"))
            self._tables[name] = table
        return self._tables[name]

    def _matrix(self, name: Literal["polar", "refined", "raw"]) -> np.ndarray:
        """The checked persons x questions matrix of ``<name>.parquet`` (read once)."""
        if name not in self._matrices:
            path = self.path / f"{name}.parquet"
            table = integrity.read_table(path, self.manifest["persons"])
            mat = integrity.matrix(path, table, self.spec, name)
            del table
            if name == "raw":
                integrity.check_raw(path, mat, self.spec, {f: self._matrix(f) for f in FORMS})
            else:
                n_valid = self._frame("persons").column("n_valid").to_numpy()
                integrity.check_options(path, mat, self.spec, name, n_valid)
            self._matrices[name] = mat
        return self._matrices[name]

    def check(self, raw: bool = False) -> None:
        """Read and check the spec and every table now rather than on first use (``raw``: the
        raw codes too, which nothing downstream reads), so that a caller about to write
        output learns of a damaged catalog first."""
        _ = self.spec
        self._frame("persons")
        for form in FORMS:
            self._matrix(form)
        self._frame("demographics")
        if raw:
            self._matrix("raw")

    @cached_property
    def persons(self) -> pd.DataFrame:
        return self._frame("persons").to_pandas()

    @cached_property
    def person_ids(self) -> np.ndarray:
        return self.persons["person_id"].to_numpy(dtype=np.int64)

    @cached_property
    def _row_of(self) -> dict[int, int]:
        return {int(p): i for i, p in enumerate(self.person_ids)}

    def row(self, person_id: int) -> int:
        try:
            return self._row_of[int(person_id)]
        except KeyError:
            raise IndieValueError(f"person {person_id} is not in the catalog") from None

    def rows(self, person_ids: np.ndarray | list[int]) -> np.ndarray:
        return np.array([self.row(p) for p in person_ids], dtype=np.int64)

    @cached_property
    def polar(self) -> np.ndarray:
        """Persons x questions, int8 option index, -1 = missing."""
        return self._matrix("polar")

    @cached_property
    def refined(self) -> np.ndarray:
        return self._matrix("refined")

    @cached_property
    def raw(self) -> np.ndarray:
        """Persons x questions, int16 raw WVS codes."""
        return self._matrix("raw")

    def matrix(self, form: Form) -> np.ndarray:
        return self.polar if form == "polar" else self.refined

    @cached_property
    def demographics(self) -> pd.DataFrame:
        """One statement column per demographic entry (None = missing) plus raw-code columns."""
        df = self._frame("demographics").to_pandas()
        df.index = pd.Index(self.person_ids, name="person_id")
        return df

    def to_pandas(self, form: Form) -> pd.DataFrame:
        """The option-index matrix as a DataFrame indexed by person id, columns = question ids."""
        return pd.DataFrame(self.matrix(form), columns=self.spec.qids,
                            index=pd.Index(self.person_ids, name="person_id"))

    # -- statements ----------------------------------------------------------------------
    def statements(self, person_id: int, form: Form = "polar") -> list[tuple[str, str]]:
        """(question id, statement) for every valid answer of a person, in catalog order."""
        answers = self.matrix(form)[self.row(person_id)]
        return [
            (q.qid, q.options(form)[int(a)].text)
            for q, a in zip(self.spec.questions, answers, strict=True)
            if a >= 0
        ]

    def demographic_statements(self, person_id: int) -> list[tuple[str, str]]:
        """(entry id, statement) for every valid demographic entry, in canonical order."""
        rec = self.demographics.iloc[self.row(person_id)]
        out = []
        for entry in self.spec.demographics:
            value = rec[entry.did]
            if isinstance(value, str):
                out.append((entry.did, value))
        return out

    def to_hf_dataset(self, form: Form = "polar") -> Any:
        """A Hugging Face ``datasets.Dataset`` with one row per person."""
        (datasets,) = require("datasets", purpose="exporting to Hugging Face datasets",
                              install="'indievalue[hf]'")
        return datasets.Dataset.from_list(list(self.iter_person_records(form)))

    def iter_person_records(self, form: Form) -> Any:
        for pid in self.person_ids:
            yield {
                "person_id": int(pid),
                "statements": [s for _, s in self.statements(int(pid), form)],
                "question_ids": [q for q, _ in self.statements(int(pid), form)],
                "demographics": [s for _, s in self.demographic_statements(int(pid))],
            }

    def info(self) -> dict[str, Any]:
        """The summary printed by ``indievalue catalog info``, after checking every file (so
        the command also vets a catalog copied from elsewhere)."""
        self.check(raw=True)
        spec = self.spec
        return {
            "path": str(self.path),
            "persons": self.manifest["persons"],
            "value_questions": len(spec.questions),
            "polar_statements": spec.n_statements("polar"),
            "refined_statements": spec.n_statements("refined"),
            "demographic_entries": len(spec.demographics),
            "categories": {c.name: len(spec.questions_in(c.key)) for c in spec.categories},
            "synthetic": self.synthetic,
            "valid_per_person_mean": self.manifest.get("valid_per_person_mean"),
            "valid_per_person_sd": self.manifest.get("valid_per_person_sd"),
            "persons_all_valid": self.manifest.get("persons_all_valid"),
            "duplicates_dropped": self.manifest.get("duplicates_dropped"),
            "source_file": self.manifest.get("source_file"),
            "source_sha256": self.manifest.get("source_sha256"),
            "spec_version": self.manifest.get("spec_version"),
            "spec_hash": self.manifest.get("spec_hash"),
            "created": self.manifest.get("created"),
        }
