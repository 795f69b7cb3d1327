"""Run-time generation: persons, latent values and answers, technical columns, the file writer.

Reads only the shipped parameters and layout (``synth/data``, see ``params``); nothing here
touches the reference aggregates. ``default`` is what ``indievalue synth`` and the pipeline's
cached default population call.
"""
