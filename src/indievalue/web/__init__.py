"""The local web page of ``indievalue serve`` (FastAPI app + static HTML/JS, no build step)."""
