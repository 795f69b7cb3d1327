"""The paper's analyses, one function (and one CLI command) each: they create the runs they
need (resuming existing ones) and write a figure plus its table (Markdown and CSV).

- :func:`indievalue.analyses.demos.demos_analysis` — Figures 4 / 10
- :func:`indievalue.analyses.transfer.transfer_analysis` — Figure 8
- :func:`indievalue.analyses.continents.continents_analysis` — Figure 6
- :func:`indievalue.analyses.evenness.evenness_analysis` — Figure 7
- :func:`indievalue.analyses.elicitation.elicitation_analysis` — beyond the paper: accuracy
  on held-out probes after k answered questions, adaptive against static and random orders
"""
