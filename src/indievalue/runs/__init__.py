"""Run directories: spec, records, evaluation loop and summaries."""
