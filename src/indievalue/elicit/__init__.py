"""Active elicitation: ask a person the questions that teach the model the most about the rest.

- :class:`~indievalue.elicit.session.Elicitation` — one person: ask, answer, predictions with
  probabilities, expected accuracy on the rest (used by ``indievalue ask`` and ``serve``).
- :func:`~indievalue.elicit.select.score_step` — the selection rule (expected error
  reduction under the model's predictive distribution), batched over persons and hypotheses.
- :mod:`~indievalue.elicit.orders` — adaptive, static-greedy and random orders for many
  persons (the benchmark, ``indievalue analyze elicitation``).
- :mod:`~indievalue.elicit.scoring` — where the probabilities come from: the value model's
  network, or any predictor that gives probabilities.
"""

from indievalue.elicit.scoring import (
    CRITERIA,
    Criterion,
    PredictorScorer,
    Scorer,
    ValueModelScorer,
    make_scorer,
)
from indievalue.elicit.select import Step, score_step
from indievalue.elicit.session import Elicitation, NextQuestion, Prediction, write_survey_row

__all__ = ["CRITERIA", "Criterion", "Elicitation", "NextQuestion", "Prediction",
           "PredictorScorer", "Scorer", "Step", "ValueModelScorer", "make_scorer",
           "score_step", "write_survey_row"]
