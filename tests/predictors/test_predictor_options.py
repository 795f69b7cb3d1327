"""Typed predictor options and ``--option KEY=VALUE`` parsing."""

from __future__ import annotations

import pytest

from indievalue.errors import IndieValueError
from indievalue.predictors import make_predictor
from indievalue.predictors.base import parse_option_pairs


def test_parse_option_pairs() -> None:
    assert parse_option_pairs([]) == {}
    assert parse_option_pairs(["top_k=24", " pool = all ", "expr=a=b", "empty="]) == {
        "top_k": "24", "pool": "all", "expr": "a=b", "empty": ""}
    # the last occurrence wins
    assert parse_option_pairs(["top_k=1", "top_k=2"]) == {"top_k": "2"}


@pytest.mark.parametrize("bad", ["top_k", "=3", " =3", ""])
def test_parse_option_pairs_rejects(bad: str) -> None:
    with pytest.raises(IndieValueError, match="KEY=VALUE"):
        parse_option_pairs([bad])


def test_option_strings_are_coerced_to_their_types() -> None:
    pred = make_predictor("resemble", parse_option_pairs(["top_k=3", "pool=100",
                                                          "context=demos", "sweep=0"]))
    opts = pred.options.model_dump()
    assert opts == {"top_k": 3, "pool": 100, "context": "demos", "sweep": 0}
    assert pred.describe() == "resemble(top_k=3, pool=100, context=demos, sweep=0)"


@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        ({"top_k": "many"}, r"predictor resemble: option top_k: .*integer"),
        ({"topk": "3"}, r"predictor resemble: option topk: .*not permitted"),
        ({"context": "everything"}, r"option context"),
        ({"sweep": "-1"}, r"option sweep"),
    ],
)
def test_bad_options_name_the_option(options: dict[str, str], pattern: str) -> None:
    with pytest.raises(IndieValueError, match=pattern):
        make_predictor("resemble", options)


def test_options_are_frozen() -> None:
    pred = make_predictor("resemble", {"top_k": 2})
    with pytest.raises(Exception, match="frozen"):
        pred.options.top_k = 5  # type: ignore[attr-defined]


def test_baselines_without_options() -> None:
    assert make_predictor("random").describe() == "random"
    with pytest.raises(IndieValueError, match="predictor majority: option top_k"):
        make_predictor("majority", {"top_k": 1})


def test_constructor_stores_seed_only() -> None:
    pred = make_predictor("random", seed=42)
    assert pred.seed == 42
