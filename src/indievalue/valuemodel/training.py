"""Training the value model on a pool of persons (CPU torch, deterministic by seed).

Every step takes a batch of persons, hides all but a random subset of each person's valid
answers (the demonstrations, shown in polar or refined form at random), and scores the model's
log probability of every hidden answer in both forms. A held-out slice of the pool gives the
progress readout and the softmax temperatures.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.progress import Progress

from indievalue.valuemodel.layout import Layout
from indievalue.valuemodel.network import ValueNet, padded, segment_log_softmax
from indievalue.valuemodel.options import ValueModelOptions

STREAM_VAL = 21
STREAM_TRAIN = 22
STREAM_INIT = 23
STREAM_CHECK = 24
MIN_DEMOS_UNIFORM = 50
SMALL_D_SHARE = 0.5  # share of subset sizes drawn log-uniform in 1..max (the rest: 50..max)
VAL_SHARE = 0.03
VAL_MAX = 2_000
# Small pools hold out more than VAL_SHARE: at least this many persons, up to VAL_SMALL_SHARE
# of the pool (temperatures fitted on ~50 persons were off by up to 13 %).
VAL_FLOOR = 500
VAL_SMALL_SHARE = 0.2
VAL_MIN = 20  # fewer held-out persons than this: no calibration, no readout
CHECK_DEMOS = 200
AUTO_MAX_EPOCHS = 18
AUTO_PERSONS_PER_EPOCH = 4_800


@dataclass(frozen=True)
class TrainReport:
    """What a training run did (saved next to the weights)."""

    epochs: int
    steps: int
    seconds: float
    n_train: int
    n_val: int
    threads: int
    t_refined: float
    t_polar: float
    val: dict[str, float]  # held-out metrics at d = 200 polar demos, after calibration
    precision: str = "fp32"  # arithmetic of the training steps ("bf16" or "fp32")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def bf16_native() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX-512 BF16 or AMX); elsewhere torch
    emulates it, slower than float32."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_precision(precision: str) -> str:
    """'auto' → 'bf16' where the CPU has native bfloat16, else 'fp32'."""
    if precision == "auto":
        return "bf16" if bf16_native() else "fp32"
    return precision


def held_out_size(n: int) -> int:
    """Persons of a pool of ``n`` held out for the temperatures and the readout: 3 %, at
    least 500 (at most a fifth of the pool), at most 2,000; none when fewer than 20."""
    n_val = min(VAL_MAX, max(round(VAL_SHARE * n), min(VAL_FLOOR, round(VAL_SMALL_SHARE * n))))
    return n_val if n_val >= VAL_MIN and n - n_val >= 1 else 0


def auto_epochs(n_persons: int) -> int:
    """One pass per started 4,800 persons, at most ``AUTO_MAX_EPOCHS``: small pools (tests,
    quick looks) train in seconds, the full pool gets the passes it needs. A small pool that
    should be learnt well wants an explicit ``epochs`` (each pass draws fresh demonstration
    subsets, so many passes over few persons still see new inputs)."""
    return int(min(AUTO_MAX_EPOCHS, max(1, math.ceil(n_persons / AUTO_PERSONS_PER_EPOCH))))


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[int]:
    """Use ``n`` CPU threads inside the block (0 = leave torch's setting), then restore."""
    before = torch.get_num_threads()
    if n > 0:
        torch.set_num_threads(n)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


@dataclass(frozen=True)
class Batch:
    tokens: torch.Tensor  # flat token ids of every bag
    offsets: torch.Tensor  # (B,) start of each bag in ``tokens``
    counts: torch.Tensor  # (B,) demonstrations per person
    target: torch.Tensor  # (B, Q) bool: hidden valid answers to score
    polar: torch.Tensor  # (B, Q) int64 labels (-1 missing)
    refined: torch.Tensor
    polar_pos: torch.Tensor  # (B, Q) packed position of the polar label (0 where missing)
    refined_pos: torch.Tensor
    group: torch.Tensor  # (B,) int64 group (country) index, -1 unknown


class Sampler:
    """Draws demonstration subsets for persons of a pool (all randomness from ``g``)."""

    def __init__(self, layout: Layout, polar: np.ndarray, refined: np.ndarray, max_demos: int,
                 groups: np.ndarray | None = None):
        self.polar = torch.as_tensor(polar)
        self.refined = torch.as_tensor(refined)
        self.groups = torch.as_tensor(np.full(len(polar), -1) if groups is None else groups,
                                      dtype=torch.int64)
        self.off_p = torch.as_tensor(layout.offsets("polar"))
        self.off_r = torch.as_tensor(layout.offsets("refined"))
        self.pos_p = torch.as_tensor(layout.local_offsets("polar"))
        self.pos_r = torch.as_tensor(layout.local_offsets("refined"))
        self.max_demos = max_demos

    def counts(self, n_valid: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """Uniform in 50..max, or (a ``SMALL_D_SHARE``) log-uniform in 1..max; always leaves
        one answer to predict."""
        b = len(n_valid)
        top = self.max_demos
        low = min(MIN_DEMOS_UNIFORM, top)
        uni = low + torch.floor(torch.rand(b, generator=g) * (top - low + 1))
        logu = torch.floor(torch.exp(torch.rand(b, generator=g) * math.log(top + 1)))
        pick = torch.rand(b, generator=g) >= SMALL_D_SHARE
        d = torch.where(pick, uni, logu).long()
        return torch.minimum(d, (n_valid - 1).clamp(min=0))

    def batch(self, rows: torch.Tensor, g: torch.Generator, d: torch.Tensor | None = None,
              refined_demos: torch.Tensor | None = None) -> Batch:
        p = self.polar[rows].long()
        r = self.refined[rows].long()
        valid = p >= 0
        if d is None:
            d = self.counts(valid.sum(1), g)
        # A uniform subset of size d of the valid answers: sort random keys (invalid last)
        # and keep the first d positions.
        scores = torch.rand(p.shape, generator=g)
        scores[~valid] = 2.0
        order = scores.argsort(dim=1)
        first = torch.arange(p.shape[1])[None, :] < d[:, None]
        demo = torch.zeros_like(valid).scatter_(1, order, first) & valid
        if refined_demos is None:
            refined_demos = torch.rand(len(rows), generator=g) < 0.5
        tok = torch.where(refined_demos[:, None], self.off_r + r, self.off_p + p)
        counts = demo.sum(1)
        offsets = torch.cumsum(counts, 0) - counts
        return Batch(tok[demo], offsets, counts, valid & ~demo, p, r,
                     self.pos_p + p.clamp(min=0), self.pos_r + r.clamp(min=0),
                     self.groups[rows])


def batch_loss(net: ValueNet, b: Batch, polar_weight: float,
               group_weight: float = 0.0) -> torch.Tensor:
    state = net.encode(b.tokens, b.offsets, b.counts)
    lr, lp = net.log_probs(state, calibrated=False)
    nll_r = -lr.gather(1, b.refined_pos)
    nll_p = -lp.gather(1, b.polar_pos)
    per = torch.where(b.target, nll_r + polar_weight * nll_p, 0.0)
    loss = per.sum() / b.target.sum().clamp(min=1)
    known = b.group >= 0
    if net.n_groups and group_weight > 0 and bool(known.any()):
        lg = net.group_log_posterior(state)[known]
        loss = loss - group_weight * lg.gather(1, b.group[known, None]).mean()
    return loss


def train(layout: Layout, polar: np.ndarray, refined: np.ndarray, options: ValueModelOptions,
          seed: int, console: Console | None = None, groups: np.ndarray | None = None,
          n_groups: int = 0) -> tuple[ValueNet, TrainReport]:
    """Fit a model on the persons of ``polar`` / ``refined`` (rows = persons); ``groups``
    (group index per person, -1 unknown; ``n_groups`` of them) supervises the group head."""
    n = len(polar)
    rng = np.random.default_rng([seed, STREAM_VAL])
    n_val = held_out_size(n)
    perm = rng.permutation(n)
    val_rows, train_rows = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    opts = options
    epochs = auto_epochs(len(train_rows)) if opts.epochs == "auto" else int(opts.epochs)
    bs = min(opts.batch_size, len(train_rows))
    per_epoch = math.ceil(len(train_rows) / bs)
    steps = epochs * per_epoch
    precision = resolve_precision(opts.precision)
    bf16 = precision == "bf16"
    with torch_threads(opts.threads) as threads:
        start = time.perf_counter()
        net = ValueNet(layout, opts.dim, opts.hidden,
                       torch.Generator().manual_seed(_seed(seed, STREAM_INIT)), n_groups)
        grp = None if groups is None else np.asarray(groups)
        train_s = Sampler(layout, polar[train_rows], refined[train_rows], opts.max_demos,
                          None if grp is None else grp[train_rows])
        val_s = Sampler(layout, polar[val_rows], refined[val_rows], opts.max_demos,
                        None if grp is None else grp[val_rows])
        optim = torch.optim.AdamW(net.parameters(), lr=opts.lr, weight_decay=opts.weight_decay,
                                      fused=True)  # one kernel per step: ~13 % faster
        warm = max(1, steps // 30)
        sched = torch.optim.lr_scheduler.LambdaLR(
            optim, lambda s: min(1.0, (s + 1) / warm)
            * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps))))
        g = torch.Generator().manual_seed(_seed(seed, STREAM_TRAIN))
        check = _fixed_check(val_s, seed) if n_val else None
        readout = "-"
        with _progress(console) as bar:
            task = bar.add_task("training value model", total=steps, info="") if bar else None
            for epoch in range(epochs):
                order = torch.randperm(len(train_rows), generator=g)
                net.train()
                running = 0.0
                for i in range(per_epoch):
                    rows = order[i * bs : (i + 1) * bs]
                    b = train_s.batch(rows, g)
                    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                        loss = batch_loss(net, b, opts.polar_weight, opts.group_weight)
                    optim.zero_grad(set_to_none=True)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                    optim.step()
                    sched.step()
                    running += float(loss.detach())
                    if bar is not None and task is not None:
                        bar.update(task, advance=1, info=f"epoch {epoch + 1}/{epochs} "
                                   f"loss {running / (i + 1):.4f} {readout}")
                if check is not None:
                    m = _check_metrics(net, check, calibrated=False)
                    readout = f"held-out polar acc {100 * m['polar_acc']:.2f}"
        net.eval()
        if n_val and opts.calibrate:
            _fit_temperatures(net, val_s, seed)
        val = _check_metrics(net, check, calibrated=True) if check is not None else {}
        seconds = time.perf_counter() - start
    report = TrainReport(epochs, steps, round(seconds, 2), len(train_rows), n_val, threads,
                         float(net.t_refined), float(net.t_polar), val, precision)
    return net, report


def _seed(seed: int, stream: int) -> int:
    return int(np.random.default_rng([seed, stream]).integers(0, 2**62))


@contextlib.contextmanager
def _progress(console: Console | None) -> Iterator[Progress | None]:
    if console is None:
        yield None
        return
    from indievalue.progress import new_progress

    with new_progress("{task.fields[info]}", console=console) as bar:
        yield bar


def _fixed_check(s: Sampler, seed: int) -> Batch:
    """Held-out persons with a fixed draw of 200 polar demonstrations (the main setting)."""
    g = torch.Generator().manual_seed(_seed(seed, STREAM_CHECK))
    rows = torch.arange(len(s.polar))
    n_valid = (s.polar >= 0).sum(1).long()
    d = torch.minimum(torch.full_like(n_valid, CHECK_DEMOS), (n_valid - 1).clamp(min=0))
    return s.batch(rows, g, d=d, refined_demos=torch.zeros(len(rows), dtype=torch.bool))


@torch.no_grad()
def _check_metrics(net: ValueNet, b: Batch, calibrated: bool) -> dict[str, float]:
    net.eval()
    state = net.encode(b.tokens, b.offsets, b.counts)
    lr, lp = net.log_probs(state, calibrated=calibrated)
    net.train()
    t = b.target
    out: dict[str, float] = {}
    for name, logp, labels, pos in (("polar", lp, b.polar, b.polar_pos),
                                    ("refined", lr, b.refined, b.refined_pos)):
        choice = padded(logp, getattr(net, f"slots_{name}")).argmax(-1)
        out[f"{name}_acc"] = float((choice == labels)[t].float().mean())
        out[f"{name}_log_loss"] = float(-logp.gather(1, pos)[t].mean())
    known = b.group >= 0
    if net.n_groups and bool(known.any()):
        guess = net.group_log_posterior(state).argmax(-1)
        out["group_acc"] = float((guess == b.group)[known].float().mean())
    return out


@torch.no_grad()
def _fit_temperatures(net: ValueNet, s: Sampler, seed: int) -> None:
    """One temperature for the refined softmax, then one for the polar sums, each minimising
    the held-out log loss over demonstration subsets drawn as in training."""
    from scipy.optimize import minimize_scalar

    g = torch.Generator().manual_seed(_seed(seed, STREAM_CHECK + 1))
    rows = torch.arange(len(s.polar)).repeat(2)
    b = s.batch(rows, g)
    state = net.encode(b.tokens, b.offsets, b.counts)
    logits = net.logits(state).double()
    t = b.target
    n_q = net.layout.n_questions

    def nll_refined(log_t: float) -> float:
        lr, _ = segment_log_softmax(logits / math.exp(log_t), net.q_of_r, n_q)
        return float(-lr.gather(1, b.refined_pos)[t].mean())

    t_r = math.exp(minimize_scalar(nll_refined, bounds=(-2.0, 2.0), method="bounded").x)
    _, lp0 = segment_log_softmax(logits / t_r, net.q_of_r, n_q, net.p_of_r,
                                 int(net.q_of_p.numel()), net.q_of_p)

    def nll_polar(log_t: float) -> float:
        lp, _ = segment_log_softmax(lp0 / math.exp(log_t), net.q_of_p, n_q)
        return float(-lp.gather(1, b.polar_pos)[t].mean())

    t_p = math.exp(minimize_scalar(nll_polar, bounds=(-2.0, 2.0), method="bounded").x)
    net.t_refined.fill_(t_r)
    net.t_polar.fill_(t_p)
