"""The ``oracle`` predictor: Bayes-optimal answers under the generator's own parameters.

``posterior`` inverts the generator's answer model; ``predictor`` registers ``oracle`` (the
registry imports that module by path on first use; this ``__init__`` imports nothing).
"""
