"""Synthetic WVS-7 respondents: the real respondent file cannot ship, so tests, examples and
the default pipeline run on a generated population in the official file layout, calibrated to
published aggregates and marked ``SYNTHETIC`` in its ``version`` column.

See docs/design/synthetic-population.md for the model and its calibration.
"""

from indievalue.synth.population import GENERATOR_VERSION, generate_population, version_label
from indievalue.synth.writer import write_wvs

__all__ = ["GENERATOR_VERSION", "generate_population", "version_label", "write_wvs"]
