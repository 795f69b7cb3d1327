"""IndieValueReasoner: supervised fine-tuning data built from a catalog (units, mixtures,
presets) and the trainer that fine-tunes a causal LM on it. Importing this package loads no
torch; :mod:`indievalue.training.trainer` does, on use."""

from indievalue.training.data import DataRequest, build_training_data
from indievalue.training.presets import PRESETS, Preset, get_preset
from indievalue.training.units import Unit, parse_unit, parse_units

__all__ = ["PRESETS", "DataRequest", "Preset", "Unit", "build_training_data", "get_preset",
           "parse_unit", "parse_units"]
