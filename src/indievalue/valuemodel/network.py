"""The network: a bag of demonstration statements → a person vector → every answer's odds.

Encoder: the mean of the demonstrations' statement embeddings plus a learned function of how
many there are (few demonstrations must give flatter predictions), then a residual MLP down to
the person vector ``z`` (``dim`` numbers). Decoder: one hidden layer, then a logit per refined
statement; a question's refined options share a softmax and its polar options sum them.

Parameters are created with an explicit ``torch.Generator`` so construction never reads or
advances torch's global random state.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from indievalue.valuemodel.layout import Layout

# log1p of this many demonstrations maps to 1.0 in the count feature
COUNT_SCALE = math.log1p(256)


def _uniform(shape: tuple[int, ...], bound: float, g: torch.Generator) -> nn.Parameter:
    t = torch.empty(shape)
    t.uniform_(-bound, bound, generator=g)
    return nn.Parameter(t)


class Dense(nn.Module):
    """A linear layer initialised from a given generator (PyTorch's default bounds)."""

    def __init__(self, fan_in: int, fan_out: int, g: torch.Generator):
        super().__init__()
        bound = 1.0 / math.sqrt(fan_in)
        self.weight = _uniform((fan_out, fan_in), bound, g)
        self.bias = _uniform((fan_out,), bound, g)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)


class ValueNet(nn.Module):
    def __init__(self, layout: Layout, dim: int, hidden: int, g: torch.Generator):
        super().__init__()
        self.layout = layout
        self.embed = nn.Parameter(torch.randn(layout.n_tokens, hidden, generator=g) * 0.1)
        self.count = nn.Parameter(torch.randn(hidden, generator=g) * 0.1)
        self.norm_in = nn.LayerNorm(hidden)
        self.enc1 = Dense(hidden, hidden, g)
        self.norm_mid = nn.LayerNorm(hidden)
        self.enc2 = Dense(hidden, hidden, g)
        self.to_z = Dense(hidden, dim, g)
        self.dec1 = Dense(dim, hidden, g)
        self.dec2 = Dense(hidden, hidden, g)
        self.out = Dense(hidden, layout.n_outputs, g)
        # Calibration temperatures, fitted after training (1.0 = none).
        self.register_buffer("t_refined", torch.ones(()))
        self.register_buffer("t_polar", torch.ones(()))
        self.register_buffer("slots", torch.as_tensor(layout.output_slots()), persistent=False)
        groups = np.zeros((layout.n_questions, layout.k_refined, layout.k_polar), np.float32)
        q, r = np.nonzero(layout.refined_to_polar >= 0)
        groups[q, r, layout.refined_to_polar[q, r]] = 1.0
        self.register_buffer("polar_groups", torch.as_tensor(groups), persistent=False)
        valid = np.arange(layout.k_polar)[None, :] < layout.n_polar[:, None]
        self.register_buffer("polar_valid", torch.as_tensor(valid), persistent=False)

    # -- encoder ---------------------------------------------------------------------------
    def encode(self, tokens: torch.Tensor, offsets: torch.Tensor,
               counts: torch.Tensor) -> torch.Tensor:
        """Person vectors (B, dim) from bags of token ids (flat ``tokens`` + bag ``offsets``)."""
        bag = F.embedding_bag(tokens, self.embed, offsets, mode="sum")
        n = counts.to(bag.dtype)[:, None]
        x = bag / n.clamp(min=1.0) + (torch.log1p(n) / COUNT_SCALE) * self.count
        h = F.gelu(self.enc1(self.norm_in(x)))
        h = h + F.gelu(self.enc2(self.norm_mid(h)))
        return self.to_z(h)

    # -- decoder ---------------------------------------------------------------------------
    def logits(self, z: torch.Tensor) -> torch.Tensor:
        """(B, Q, K_refined) refined logits, -inf beyond each question's options."""
        h = F.gelu(self.dec1(z))
        h = h + F.gelu(self.dec2(h))
        packed = self.out(h)
        lay = self.layout
        grid = packed.new_full((len(z), lay.n_questions * lay.k_refined), -math.inf)
        grid = grid.index_copy(1, self.slots, packed)
        return grid.view(len(z), lay.n_questions, lay.k_refined)

    def log_probs(self, z: torch.Tensor, calibrated: bool = True
                  ) -> tuple[torch.Tensor, torch.Tensor]:
        """Refined (B, Q, K_refined) and polar (B, Q, K_polar) log probabilities."""
        logits = self.logits(z)
        if calibrated:
            logits = logits / self.t_refined
        lr = torch.log_softmax(logits, dim=-1)
        lp = polar_from_refined(lr, self.polar_groups.to(lr.dtype), self.polar_valid)
        if calibrated:
            lp = torch.log_softmax(lp / self.t_polar, dim=-1)
        return lr, lp


def polar_from_refined(log_refined: torch.Tensor, groups: torch.Tensor,
                       valid: torch.Tensor) -> torch.Tensor:
    """Sum refined probabilities within each polar option; log space, -inf beyond the options.

    Summing in probability space (not a masked logsumexp) keeps gradients finite: a padded
    option never receives a 0 * inf.
    """
    probs = torch.einsum("bqr,qrp->bqp", log_refined.exp(), groups)
    tiny = torch.finfo(probs.dtype).tiny
    return torch.where(valid, probs.clamp_min(tiny).log(), -math.inf)
