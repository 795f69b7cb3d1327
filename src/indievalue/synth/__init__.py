"""Synthetic WVS-7 respondents: the real respondent file cannot ship, so tests, examples and
the default pipeline run on a generated population in the official file layout, calibrated to
published aggregates and marked ``SYNTHETIC`` in its ``version`` column.

Three roles, one sub-package each:

- ``synth.generate``: run-time generation from the shipped parameters in ``synth/data``
  (``indievalue synth``, the default population of the pipeline);
- ``synth.calibrate``: fitting those parameters to published aggregates, used only by
  ``tools/calibrate_synth.py``;
- ``synth.oracle``: the ``oracle`` predictor, the generator's model inverted.

See docs/design/synthetic-population.md for the model and its calibration.
"""

from indievalue.synth.generate.population import (
    GENERATOR_VERSION,
    generate_population,
    version_label,
)
from indievalue.synth.generate.writer import write_wvs

__all__ = ["GENERATOR_VERSION", "generate_population", "version_label", "write_wvs"]
