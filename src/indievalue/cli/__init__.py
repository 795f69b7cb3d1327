"""The ``indievalue`` command line: a thin layer over the Python API."""
