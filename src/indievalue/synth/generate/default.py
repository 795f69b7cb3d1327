"""Writing a synthetic population file, and the cached full-size default the main job uses."""

from __future__ import annotations

from pathlib import Path

from indievalue.errors import IndieValueError

DEFAULT_PERSONS = 97_112  # the 66 countries at their real sample sizes


def synth(persons: int, seed: int, out: Path) -> Path:
    """Generate ``persons`` synthetic respondents from ``seed`` and write them to ``out``."""
    from indievalue.synth import generate_population, write_wvs
    from indievalue.synth.generate.writer import format_of

    format_of(out)  # reject a bad extension before spending time on generation
    if persons < 1:
        raise IndieValueError("--persons must be at least 1")
    if seed < 0:
        raise IndieValueError("--seed must be non-negative")
    return write_wvs(generate_population(persons, seed), out)


def default_population_path(seed: int = 0) -> Path:
    """The full-size synthetic population as CSV in the user cache, generated on first use.

    Keyed by generator version and seed, so a new generator never reuses an old file.
    """
    import platformdirs

    from indievalue.synth import GENERATOR_VERSION

    cache = Path(platformdirs.user_cache_dir("indievalue")) / "synth"
    path = cache / f"wvs7-synthetic-v{GENERATOR_VERSION}-seed{seed}.csv"
    if not path.is_file():
        # write_wvs is atomic, so concurrent first uses at worst both generate the same bytes.
        synth(DEFAULT_PERSONS, seed, path)
    return path
