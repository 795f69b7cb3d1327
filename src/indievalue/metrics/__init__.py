"""Metrics: pure functions over records (accuracy, disaggregation, inequity, calibration)."""
