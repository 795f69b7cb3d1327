"""The SQLite response cache: keys, hits and misses, persistence across instances."""

from __future__ import annotations

from pathlib import Path

from indievalue.lm.cache import ResponseCache, cache_key, default_cache_path
from indievalue.predictors import make_predictor

PROMPT = [{"role": "user", "content": "hello"}]
PARAMS = {"temperature": 0.0, "top_p": 1.0, "max_new_tokens": 8, "seed": 0}


def test_key_covers_backend_model_params_and_prompt() -> None:
    base = cache_key("hf:generate", "m", PARAMS, PROMPT)
    assert base == cache_key("hf:generate", "m", dict(reversed(PARAMS.items())), PROMPT)
    others = {
        cache_key("openai:generate", "m", PARAMS, PROMPT),
        cache_key("hf:generate", "m2", PARAMS, PROMPT),
        cache_key("hf:generate", "m", {**PARAMS, "seed": 1}, PROMPT),
        cache_key("hf:generate", "m", {**PARAMS, "temperature": 0.6}, PROMPT),
        cache_key("hf:generate", "m", {**PARAMS, "max_new_tokens": 9}, PROMPT),
        cache_key("hf:generate", "m", PARAMS, [{"role": "user", "content": "hello "}]),
        cache_key("hf:generate", "m", PARAMS, [{"role": "system", "content": "s"}, *PROMPT]),
    }
    assert base not in others and len(others) == 7


def test_hits_misses_and_persistence(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "cache.sqlite"
    first = ResponseCache(path)
    assert first.get("k1") is None
    first.put("k1", {"text": "Option 2: ü", "tokens_in": 3})
    first.put("k2", [[-1.5, -0.25]])
    assert first.get("k1") == {"text": "Option 2: ü", "tokens_in": 3}
    assert (first.hits, first.misses) == (1, 1)
    first.close()
    second = ResponseCache(path)  # a new process would see the same
    assert second.get("k2") == [[-1.5, -0.25]]
    assert second.get("k1") == {"text": "Option 2: ü", "tokens_in": 3}
    assert second.get("k3") is None
    assert (second.hits, second.misses) == (2, 1)
    second.put("k1", {"text": "replaced"})
    assert second.get("k1") == {"text": "replaced"}
    second.close()


def test_off_stores_nothing(tmp_path: Path) -> None:
    off = ResponseCache(None)
    off.put("k", 1)
    assert off.get("k") is None
    assert (off.hits, off.misses) == (0, 1)


def test_predictor_cache_option(tmp_path: Path) -> None:
    file = tmp_path / "c.sqlite"
    assert make_predictor("hf", {"model": "x", "cache": "off"}).cache.path is None  # type: ignore[attr-defined]
    assert make_predictor("hf", {"model": "x", "cache": str(file)}).cache.path == file  # type: ignore[attr-defined]
    assert default_cache_path().name == "lm-cache.sqlite"
    # constructing a predictor touches no file
    make_predictor("hf", {"model": "x", "cache": str(tmp_path / "never.sqlite")})
    assert not (tmp_path / "never.sqlite").exists()
