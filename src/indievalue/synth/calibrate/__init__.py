"""Calibration: fitting the generator's parameters to published WVS-7 aggregates.

Used only by ``tools/calibrate_synth.py``, which writes ``synth/data``; never imported at run
time. ``quickeval`` is the fast numpy version of the statistical baselines the search aims at.
"""
