"""Language-model backends: local transformers, OpenAI-compatible HTTP, vLLM."""
