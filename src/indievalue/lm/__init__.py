"""What language-model predictors share: prompts, parsing, backends, the response cache."""
