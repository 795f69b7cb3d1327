"""Reports over run directories: tables, figures, Markdown and self-contained HTML.

Reads only run directories. Importing this package imports matplotlib (figures are drawn with
its object-oriented API on an Agg canvas; no global backend is set).
"""
