"""The network: a bag of demonstration statements → a person vector → every answer's odds.

Encoder: the mean and the (scaled) sum of the demonstrations' statement embeddings plus a
learned function of how many there are (few demonstrations must give flatter predictions),
then a residual MLP down to the person vector ``z`` (``dim`` numbers) and a log sharpness (one
inverse temperature per person: how consistently this person answers). Beside it, an
optional group (country) head: summed per-statement scores give a posterior over groups, which
conditions both the encoder and the decoder. Decoder: one hidden layer, then a logit per
refined statement, times the sharpness; a question's refined options share a softmax and its
polar options sum them.

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
# log "probability" of the other groups when the group is known (exp() underflows to 0)
KNOWN_LOG_ZERO = -1e4
# scale of the summed embeddings beside the mean (sums grow with the number of demonstrations)
SUM_SCALE = 16.0


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
    # buffers (declared for type checkers)
    t_refined: torch.Tensor
    t_polar: torch.Tensor
    q_of_r: torch.Tensor
    p_of_r: torch.Tensor
    q_of_p: torch.Tensor
    slots_polar: torch.Tensor
    slots_refined: torch.Tensor

    def __init__(self, layout: Layout, dim: int, hidden: int, g: torch.Generator,
                 n_groups: int = 0):
        super().__init__()
        self.layout = layout
        self.dim = dim
        self.n_groups = n_groups
        self.embed = nn.Parameter(torch.randn(layout.n_tokens, hidden, generator=g) * 0.1)
        self.embed_sum = nn.Parameter(torch.randn(layout.n_tokens, hidden, generator=g) * 0.1)
        self.count = nn.Parameter(torch.randn(hidden, generator=g) * 0.1)
        self.norm_in = nn.LayerNorm(hidden)
        self.enc1 = Dense(hidden, hidden, g)
        self.norm_mid = nn.LayerNorm(hidden)
        self.enc2 = Dense(hidden, hidden, g)
        self.to_z = Dense(hidden, dim, g)
        self.skip_z = Dense(hidden, dim, g)  # linear path from the pooled input to z
        # log sharpness: one inverse temperature per person for all their logits (starts at 1)
        self.to_sharp = Dense(hidden, 1, g)
        with torch.no_grad():
            self.to_sharp.weight.zero_()
            self.to_sharp.bias.zero_()
        self.dec1 = Dense(dim, hidden, g)
        self.dec2 = Dense(hidden, hidden, g)
        self.out = Dense(hidden, layout.n_outputs, g)
        if n_groups:
            # Group (country) head: summed per-statement scores, like a naive-Bayes classifier
            # over the demonstrations, give a posterior over groups; its expected group
            # vectors shift the encoder's input, the decoder's first layer and the logits
            # (a group's own answer shares, exactly representable).
            self.group_tok = nn.Parameter(torch.zeros(layout.n_tokens, n_groups))
            self.group_bias = nn.Parameter(torch.zeros(n_groups))
            self.group_enc = nn.Parameter(torch.randn(n_groups, hidden, generator=g) * 0.1)
            self.group_dec = nn.Parameter(torch.randn(n_groups, hidden, generator=g) * 0.1)
            self.group_out = nn.Parameter(torch.zeros(n_groups, layout.n_outputs))
        # Calibration temperatures, fitted after training (1.0 = none).
        self.register_buffer("t_refined", torch.ones(()))
        self.register_buffer("t_polar", torch.ones(()))
        # Packed bookkeeping: question of each refined output, polar statement of each refined
        # output, question of each polar statement.
        q_of_r = np.repeat(np.arange(layout.n_questions), layout.n_refined)
        k_of_r = np.concatenate([np.arange(n) for n in layout.n_refined])
        p_of_r = layout.offsets("polar")[q_of_r] + layout.refined_to_polar[q_of_r, k_of_r]
        self.register_buffer("q_of_r", torch.as_tensor(q_of_r), persistent=False)
        self.register_buffer("p_of_r", torch.as_tensor(p_of_r), persistent=False)
        q_of_p = np.repeat(np.arange(layout.n_questions), layout.n_polar)
        self.register_buffer("q_of_p", torch.as_tensor(q_of_p), persistent=False)
        for form in ("polar", "refined"):
            slots = torch.as_tensor(layout.padded_slots(form))
            self.register_buffer(f"slots_{form}", slots, persistent=False)

    # -- encoder ---------------------------------------------------------------------------
    def encode(self, tokens: torch.Tensor, offsets: torch.Tensor, counts: torch.Tensor,
               known_group: torch.Tensor | None = None) -> torch.Tensor:
        """Person states (B, dim + 1 + n_groups) from bags of token ids (flat ``tokens`` + bag
        ``offsets``): the person vector z, the log sharpness, then the log posterior over
        groups (if any). ``known_group`` (B,), -1 where unknown, replaces the posterior by
        certainty."""
        # One bag over the tables side by side: one pass over the tokens forward and one
        # (sorted) scatter backward instead of three.
        tables: list[torch.Tensor] = [self.embed, self.embed_sum]
        if self.n_groups:
            tables.append(self.group_tok)
        sums = F.embedding_bag(tokens, torch.cat(tables, dim=1), offsets, mode="sum")
        h = self.embed.shape[1]
        bag, total = sums[:, :h], sums[:, h : 2 * h]
        n = counts.to(bag.dtype)[:, None]
        x = (bag / n.clamp(min=1.0) + total / SUM_SCALE
             + (torch.log1p(n) / COUNT_SCALE) * self.count)
        if not self.n_groups:
            return self._heads(x)
        scores = sums[:, 2 * h :]
        log_post = F.log_softmax(scores + self.group_bias, dim=-1)
        if known_group is not None and bool((known_group >= 0).any()):
            sure = torch.full_like(log_post, KNOWN_LOG_ZERO).scatter_(
                1, known_group.clamp(min=0)[:, None], 0.0)
            log_post = torch.where((known_group >= 0)[:, None], sure, log_post)
        return torch.cat([self._heads(x + log_post.exp() @ self.group_enc), log_post], dim=-1)

    def person_vectors(self, state: torch.Tensor) -> torch.Tensor:
        """(B, dim) person vectors z of person states."""
        return state[:, : self.dim]

    def log_sharpness(self, state: torch.Tensor) -> torch.Tensor:
        """(B,) log inverse temperature of person states."""
        return state[:, self.dim]

    def group_log_posterior(self, state: torch.Tensor) -> torch.Tensor:
        """(B, n_groups) log posterior over groups of person states."""
        return state[:, self.dim + 1 :]

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, dim + 1): z (MLP plus a linear path) and the log sharpness of pooled inputs."""
        h = F.gelu(self.enc1(self.norm_in(x)))
        h = h + F.gelu(self.enc2(self.norm_mid(h)))
        return torch.cat([self.to_z(h) + self.skip_z(x), self.to_sharp(h)], dim=-1)

    # -- decoder ---------------------------------------------------------------------------
    def logits(self, state: torch.Tensor) -> torch.Tensor:
        """(B, n_refined_statements) packed refined logits, question after question."""
        h = self.dec1(self.person_vectors(state))
        sharp = self.log_sharpness(state).exp()[:, None]
        if not self.n_groups:
            h = F.gelu(h)
            return sharp * self.out(h + F.gelu(self.dec2(h)))
        post = self.group_log_posterior(state).exp()
        h = F.gelu(h + post @ self.group_dec)
        return sharp * (self.out(h + F.gelu(self.dec2(h))) + post @ self.group_out)

    def log_probs(self, state: torch.Tensor, calibrated: bool = True
                  ) -> tuple[torch.Tensor, torch.Tensor]:
        """Packed log probabilities of every refined (B, 929) and polar (B, 567) statement
        (in float32, also when the products ran in bfloat16)."""
        return self.log_probs_from_logits(self.logits(state).float(), calibrated)

    def log_probs_from_logits(self, logits: torch.Tensor, calibrated: bool = True
                              ) -> tuple[torch.Tensor, torch.Tensor]:
        n_q = self.layout.n_questions
        if calibrated:
            logits = logits / self.t_refined
        lr, lp = segment_log_softmax(logits, self.q_of_r, n_q, self.p_of_r,
                                     int(self.q_of_p.numel()), self.q_of_p)
        if calibrated:
            lp, _ = segment_log_softmax(lp / self.t_polar, self.q_of_p, n_q)
        return lr, lp


def padded(packed: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
    """(B, Q, K) view of packed per-statement values, -inf beyond each question's options."""
    grid = packed[:, slots.clamp(min=0)]
    return grid.masked_fill(slots < 0, -math.inf)


def segment_log_softmax(x: torch.Tensor, seg: torch.Tensor, n_seg: int,
                        group: torch.Tensor | None = None, n_group: int = 0,
                        seg_of_group: torch.Tensor | None = None
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Log softmax of ``x`` (B, N) within segments ``seg`` (N,), and optionally the log of the
    summed probabilities of each ``group`` (N,) of entries (a group lies inside one segment).

    Packed, no padding: a segment's maximum is subtracted first (detached, it only shifts).
    """
    b = x.shape[0]
    idx = seg.expand(b, -1)
    top = x.new_full((b, n_seg), -math.inf).scatter_reduce(
        1, idx, x.detach(), reduce="amax", include_self=True)
    shifted = x - top[:, seg]
    e = shifted.exp()
    total = x.new_zeros((b, n_seg)).index_add(1, seg, e)
    log_total = total.log()
    out = shifted - log_total[:, seg]
    if group is None or seg_of_group is None:
        return out, out
    tiny = torch.finfo(x.dtype).tiny
    gsum = x.new_zeros((b, n_group)).index_add(1, group, e)
    return out, gsum.clamp_min(tiny).log() - log_total[:, seg_of_group]
