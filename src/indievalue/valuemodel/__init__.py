"""A trained value model: demonstrations → a person vector → calibrated answer probabilities.

The registered predictor lives in :mod:`indievalue.valuemodel.predictor`; training, the network
and saved models need PyTorch and are imported on first use (see docs/design/value-model.md).
"""
