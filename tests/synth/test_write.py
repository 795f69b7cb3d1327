"""Writing all three formats, byte-identical CSV, and reading them back with read_wvs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from indievalue.catalog.spec_io import builtin_spec
from indievalue.catalog.wvs import read_wvs
from indievalue.errors import IndieValueError
from indievalue.synth import generate_population, write_wvs


def test_csv_bytes_deterministic(tmp_path: Path) -> None:
    a = write_wvs(generate_population(300, seed=5), tmp_path / "a.csv")
    b = write_wvs(generate_population(300, seed=5), tmp_path / "b.csv")
    assert a.read_bytes() == b.read_bytes()
    c = write_wvs(generate_population(300, seed=6), tmp_path / "c.csv")
    assert a.read_bytes() != c.read_bytes()


def test_three_formats_read_identically(tmp_path: Path, small_pop: pd.DataFrame) -> None:
    spec = builtin_spec()
    tables = [read_wvs(write_wvs(small_pop, tmp_path / f"pop.{ext}"), spec)
              for ext in ("csv", "sav", "dta")]
    first = tables[0]
    assert first.synthetic and first.version_label.startswith("SYNTHETIC")
    assert first.n_rows_read == len(small_pop) and first.n_duplicates == 0
    assert np.array_equal(first.person_ids, small_pop["D_INTERVIEW"].to_numpy())
    for t in tables[1:]:
        assert t.synthetic and t.version_label == first.version_label
        assert np.array_equal(t.person_ids, first.person_ids)
        assert t.columns.keys() == first.columns.keys()
        for name, col in first.columns.items():
            assert np.array_equal(t.columns[name], col), name


def test_bad_extension(tmp_path: Path) -> None:
    with pytest.raises(IndieValueError, match="unsupported extension"):
        write_wvs(generate_population(10, seed=1), tmp_path / "pop.xlsx")
    assert not list(tmp_path.iterdir())


def test_no_temp_files_left(tmp_path: Path) -> None:
    write_wvs(generate_population(50, seed=1), tmp_path / "p.sav")
    assert [p.name for p in tmp_path.iterdir()] == ["p.sav"]
