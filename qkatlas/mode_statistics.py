"""Per-mode score statistics over a whole dataset, accumulated in the stream that finds the top-K.

For every column (basis, layer, head, mode, sign), over every image scored: how many images were
scored, on how many the mode *fires* (its query map and its key map both have a positive peak, so
the score is not the quirk's product of two negative maxima), the mean and standard deviation of the
score, its extremes, a histogram, and, when images carry class labels, the summed score of each
class's images. docs/method.md#per-mode-statistics defines them; docs/atlas-format.md stores them.

**Mergeable by construction.** Every quantity is a sum (counts, shifted sums, histogram counts,
class sums) or an extreme, so two shards' or two sessions' statistics combine by adding (``merge``).
The histogram bins of a column are fixed before the stream from a *calibration sample* that every
process scores identically (the first ``CALIBRATION_IMAGES`` images of the dataset, in dataset
order; ``HistogramBins.from_calibration``), and a resumed run takes them from its checkpoint. So
the counts are exact integers that do not depend on how the images were split or interrupted.
Sums are float64 and shifted by the bins' centre (so the variance does not cancel catastrophically).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from qkatlas.columns import ColumnLayout
from qkatlas.distribution_samples import N_BANDS, RunningSamples, SamplesSummary, sample_keys

#: Equal-width bins between a column's ``low`` and ``low + N_BINS · width``; two more count the
#: scores below and above (open-ended, reported with the exact extremes).
N_BINS = 64
#: Images (the first ones of the dataset, in dataset order) whose scores fix every column's bins.
CALIBRATION_IMAGES = 256
#: The bins span the calibration range ``r`` widened by ``LOW_MARGIN · r`` below and ``HIGH_MARGIN · r``
#: above: scores are skewed to the right and the top-K lives in the upper tail.
LOW_MARGIN, HIGH_MARGIN = 0.25, 0.75
#: Columns per pass of ``update`` (bounds the temporaries of very wide models).
STATISTICS_CHUNK = 1 << 15

BINNING_RULE = (
    f"{N_BINS} bins per signed mode of width w = r·{1 + LOW_MARGIN + HIGH_MARGIN:g}/{N_BINS} from "
    f"low = lo − {LOW_MARGIN}·r − w/2, where lo, hi are the extremes of the mode's scores on the calibration sample "
    f"(the decodable ones among the first {CALIBRATION_IMAGES} images of the dataset, in dataset order) and "
    "r = hi − lo (r = max(|lo|, 1)·1e-6 when they are equal), so lo and hi fall mid-bin; a score x goes to bin "
    "floor(x·(1/w) − low/w) computed in float32; a bin index below 0 counts as underflow, one of n_bins or more as "
    "overflow"
)


def bin_position(scores: torch.Tensor, inverse_width: torch.Tensor, low_in_widths: torch.Tensor) -> torch.Tensor:
    """The bin of each float32 score as ``BINNING_RULE`` computes it, ``floor(x·(1/w) − low/w)`` in float32
    (``inverse_width``, ``low_in_widths``: float32, broadcasting against ``scores``), clamped to −1 (underflow)
    … ``N_BINS`` (overflow). Monotonic in the score: a higher score never lands in a lower bin."""
    return (scores * inverse_width).sub_(low_in_widths).floor_().clamp_(-1, N_BINS)


def float32_bin_terms(low: torch.Tensor, width: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(1/w, low/w)`` of float64 bins, rounded to float32 as the batch arithmetic uses them."""
    return (1.0 / width).float(), (low / width).float()


@dataclass(frozen=True)
class HistogramBins:
    """Every column's bins: edges ``low + width · [0, 1, …, N_BINS]``; ``low, width: [C]`` float64;
    ``calibration_images``: how many images' scores fixed them."""

    low: torch.Tensor
    width: torch.Tensor
    calibration_images: int

    @classmethod
    def from_calibration(cls, scores: torch.Tensor) -> HistogramBins:
        """``scores [N, C]`` (the calibration sample's scores, any float dtype) → the bins."""
        values = scores.double() if len(scores) else scores.new_zeros((1, scores.shape[1]), dtype=torch.float64)
        finite = torch.isfinite(values)
        lo = torch.where(finite, values, torch.inf).amin(dim=0)
        hi = torch.where(finite, values, -torch.inf).amax(dim=0)
        none = ~torch.isfinite(lo)  # no finite calibration score: bins around 0
        lo, hi = torch.where(none, 0.0, lo), torch.where(none, 0.0, hi)
        span = hi - lo
        span = torch.where(span > 0, span, torch.clamp(lo.abs(), min=1.0) * 1e-6)
        width = span * (1.0 + LOW_MARGIN + HIGH_MARGIN) / N_BINS
        low = lo - LOW_MARGIN * span - width / 2  # the sample's extremes (often repeated, e.g. 0) mid-bin
        return cls(low.contiguous(), width.contiguous(), int(scores.shape[0]))

    @property
    def centre(self) -> torch.Tensor:
        """``[C]``: the middle of each column's bins, the shift of its sums."""
        return self.low + self.width * (N_BINS / 2)

    def to(self, device: torch.device | str) -> HistogramBins:
        return HistogramBins(self.low.to(device), self.width.to(device), self.calibration_images)


class RunningDistribution:
    """Per column, over the finite values seen so far: their count, sums shifted by the bins' centre
    (float32 within a batch, float64 across batches: docs/method.md#sums-and-their-precision), extremes
    and a histogram in the calibrated ``bins``. What the scores' statistics and the effects
    (``qkatlas.mode_effects``) both keep: every part is a sum or an extreme, so shards and sessions merge
    exactly. Never synchronizes with the host."""

    #: The state's tensors: what checkpoints save and ranks exchange (sums add, extremes take the extreme).
    SUMS = ("count", "total", "total_sq", "histogram")
    EXTREMES = ("minimum", "maximum")

    def __init__(self, bins: HistogramBins, device: torch.device | str) -> None:
        self.bins = bins.to(device)
        n_columns = bins.low.shape[0]
        self.count = torch.zeros(n_columns, dtype=torch.int64, device=device)
        self.total = torch.zeros(n_columns, dtype=torch.float64, device=device)
        self.total_sq = torch.zeros(n_columns, dtype=torch.float64, device=device)
        self.minimum = torch.full((n_columns,), torch.inf, dtype=torch.float32, device=device)
        self.maximum = torch.full((n_columns,), -torch.inf, dtype=torch.float32, device=device)
        self.histogram = torch.zeros((n_columns, N_BINS + 2), dtype=torch.int64, device=device)
        # The bins in float32 as the batch arithmetic uses them: a value x goes to bin
        # floor(x · (1/width) − low/width) (BINNING_RULE); each column's first bin in the flat histogram.
        self._centre = self.bins.centre.float()
        self._inverse_width, self._low_in_widths = float32_bin_terms(self.bins.low, self.bins.width)
        self._first_slot = torch.arange(n_columns, device=device) * (N_BINS + 2) + 1

    @property
    def n_columns(self) -> int:
        return int(self.count.shape[0])

    def add(self, columns: slice, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Add one batch's float32 ``values [B, c]`` of ``columns``; non-finite values are not counted.

        Returns ``(finite, centred, position)``, each ``[B, c]``: which values counted; each value minus its
        column's centre, in float32 (0 where not counted); its bin position (``bin_position``, 0 where not
        counted). No boolean indexing or ``bincount``, whose output size depends on the data."""
        finite = torch.isfinite(values)
        invalid = ~finite
        centred = (values - self._centre[columns]).masked_fill_(invalid, 0.0)
        self.count[columns] += finite.sum(0)
        self.total[columns] += centred.sum(0).double()
        self.total_sq[columns] += centred.square().sum(0).double()
        self.minimum[columns] = torch.minimum(self.minimum[columns], values.masked_fill(invalid, torch.inf).amin(0))
        self.maximum[columns] = torch.maximum(self.maximum[columns], values.masked_fill(invalid, -torch.inf).amax(0))
        position = bin_position(values, self._inverse_width[columns], self._low_in_widths[columns])
        position = position.masked_fill_(invalid, 0)
        # Column c's slots: c·(N_BINS + 2) + (0 underflow, 1..N_BINS bins, N_BINS + 1 overflow); an
        # uncounted value adds 0 (integer additions: exact in any order).
        slot = position.long() + self._first_slot[columns]
        self.histogram.view(-1).index_add_(0, slot.flatten(), finite.flatten().long())
        return finite, centred, position

    def merge(self, other: RunningDistribution) -> None:
        """Add another shard's or session's (same bins)."""
        for name in self.SUMS:
            getattr(self, name).add_(getattr(other, name).to(self.count.device))
        torch.minimum(self.minimum, other.minimum.to(self.minimum.device), out=self.minimum)
        torch.maximum(self.maximum, other.maximum.to(self.maximum.device), out=self.maximum)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """A copy of the state on the host, bins included (the stream can go on while it is saved)."""
        state = {name: getattr(self, name).detach().to("cpu", copy=True) for name in (*self.SUMS, *self.EXTREMES)}
        state["low"], state["width"] = self.bins.low.cpu(), self.bins.width.cpu()
        state["calibration_images"] = torch.tensor(self.bins.calibration_images)
        return state

    @classmethod
    def from_state_dict(cls, state: dict[str, torch.Tensor], device: torch.device | str) -> RunningDistribution:
        bins = HistogramBins(state["low"], state["width"], int(state["calibration_images"]))
        distribution = cls(bins, device)
        for name in (*cls.SUMS, *cls.EXTREMES):
            getattr(distribution, name).copy_(state[name])
        return distribution

    def moments(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(count [C] int64, mean [C] float64, std [C] float64)`` on the host; NaN where nothing counted."""
        count = self.count.cpu().numpy()
        centre = self.bins.centre.cpu().numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            shift = self.total.cpu().numpy() / count
            variance = self.total_sq.cpu().numpy() / count - shift**2
        return count, centre + shift, np.sqrt(np.maximum(variance, 0.0))


@dataclass(frozen=True)
class StatisticsSummary:
    """The finished statistics (numpy, on the host), one entry per column unless said otherwise.

    ``count, firing: [C]`` int64; ``mean, std: [C]`` float64 (population std over the scored images;
    NaN where ``count`` is 0); ``minimum, maximum: [C]`` float32 (±inf where ``count`` is 0);
    ``low, width: [C]`` float64; ``histogram: [C, N_BINS + 2]`` int64 (underflow, bins, overflow);
    ``class_mean: [n_classes, C]`` float64 (NaN for a class without scored images);
    ``class_count: [n_classes]`` int64; ``samples``: the images sampled across each column's distribution.
    """

    count: np.ndarray
    firing: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    minimum: np.ndarray
    maximum: np.ndarray
    low: np.ndarray
    width: np.ndarray
    histogram: np.ndarray
    class_mean: np.ndarray
    class_count: np.ndarray
    samples: SamplesSummary


class RunningStatistics:
    """Sums over the images seen so far, on the compute device (never synchronizes with the host): every
    column's score ``distribution`` (``RunningDistribution``), how often it fires, its class sums and its
    distribution samples.

    ``n_classes`` may be 0 (no labels). Class sums are one matmul per update: the batch's one-hot
    class matrix ``[B, n_classes]`` against its shifted scores ``[B, C]``.
    """

    #: The tensors of the state besides the distribution's, by name: what checkpoints save and ranks exchange
    #: (all sums; the samples' tensors go under ``SAMPLES_PREFIX`` and merge by ``RunningSamples.merge``).
    SAMPLES_PREFIX = "samples_"
    SUMS = ("firing", "class_total", "class_count")

    def __init__(self, bins: HistogramBins, n_classes: int, device: torch.device | str) -> None:
        self.distribution = RunningDistribution(bins, device)
        n_columns = bins.low.shape[0]
        self.n_classes = n_classes
        self.samples = RunningSamples(n_columns, N_BINS, device)
        self.firing = torch.zeros(n_columns, dtype=torch.int64, device=device)
        self.class_total = torch.zeros((n_classes, n_columns), dtype=torch.float64, device=device)
        self.class_count = torch.zeros(n_classes, dtype=torch.int64, device=device)

    @property
    def bins(self) -> HistogramBins:
        return self.distribution.bins

    @property
    def n_columns(self) -> int:
        return self.distribution.n_columns

    def update(
        self, scores: torch.Tensor, firing: torch.Tensor, classes: torch.Tensor, indices: torch.Tensor
    ) -> torch.Tensor:
        """Add one batch: ``scores [B, C]`` float32, ``firing [B, C]`` bool, ``classes [B]`` int64
        (class id, −1 for an image without a label), ``indices [B]`` the images' dataset indices (for the
        distribution samples, ``qkatlas.distribution_samples``). Non-finite scores are not counted (and
        add 0 to their class's sum). Per-batch arithmetic is float32 (the scores' precision); the running
        sums are float64. Returns ``[B]`` bool: the rows that entered some column's samples. Nothing here
        waits for the device (no host read: no boolean indexing, no ``bincount``, whose output size
        depends on the data)."""
        labelled = (classes >= 0).long()
        known = classes.clamp(min=0)
        keys = sample_keys(indices.to(scores.device))
        entered = torch.zeros(len(indices), dtype=torch.bool, device=scores.device)
        if self.n_classes:
            self.class_count.index_add_(0, known, labelled)
        for start in range(0, self.n_columns, STATISTICS_CHUNK):
            stop = min(start + STATISTICS_CHUNK, self.n_columns)
            columns = slice(start, stop)
            entered |= self._update_columns(columns, scores[:, columns], firing[:, columns], known, labelled, keys)
        return entered

    def _update_columns(
        self,
        columns: slice,
        scores: torch.Tensor,
        firing: torch.Tensor,
        known: torch.Tensor,
        labelled: torch.Tensor,
        keys: torch.Tensor,
    ) -> torch.Tensor:
        finite, centred, position = self.distribution.add(columns, scores)
        self.firing[columns] += (firing & finite).sum(0)
        bands = self.samples.band_of_bin(position).masked_fill_(~finite, N_BANDS)
        entered = self.samples.update_columns(columns, bands, scores, firing & finite, keys)
        if not self.n_classes:
            return entered
        if centred.device.type == "cpu":  # B·C additions rather than a B·C·classes matmul
            self.class_total[:, columns].index_add_(0, known, centred.double().mul_(labelled.unsqueeze(1)))
        else:  # a matmul, not index_add_: float atomics would make the sums' rounding differ run to run
            one_hot = torch.zeros((len(known), self.n_classes), device=known.device)
            one_hot.scatter_(1, known.unsqueeze(1), labelled.unsqueeze(1).float())
            self.class_total[:, columns] += (one_hot.T @ centred).double()
        return entered

    def merge(self, other: RunningStatistics) -> None:
        """Add another shard's or session's sums (same bins)."""
        self.distribution.merge(other.distribution)
        for name in self.SUMS:
            getattr(self, name).add_(getattr(other, name).to(self.firing.device))
        self.samples.merge(other.samples)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """A copy of the state on the host (the stream can go on while it is saved)."""
        state = self.distribution.state_dict()
        state |= {name: getattr(self, name).detach().to("cpu", copy=True) for name in self.SUMS}
        state |= {self.SAMPLES_PREFIX + name: tensor for name, tensor in self.samples.state_dict().items()}
        return state

    @classmethod
    def from_state_dict(cls, state: dict[str, torch.Tensor], device: torch.device | str) -> RunningStatistics:
        distribution = RunningDistribution.from_state_dict(state, device)
        stats = cls(distribution.bins, int(state["class_count"].shape[0]), device)
        stats.distribution = distribution
        for name in cls.SUMS:
            getattr(stats, name).copy_(state[name])
        stats.samples = RunningSamples.from_state_dict(
            {
                name.removeprefix(cls.SAMPLES_PREFIX): t
                for name, t in state.items()
                if name.startswith(cls.SAMPLES_PREFIX)
            },
            N_BINS,
            device,
        )
        return stats

    def summary(self) -> StatisticsSummary:
        """The statistics as they stand (copied to the host)."""
        distribution = self.distribution
        count, mean, std = distribution.moments()
        centre = distribution.bins.centre.cpu().numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            class_count = self.class_count.cpu().numpy()
            class_mean = centre + self.class_total.cpu().numpy() / class_count[:, None]
        return StatisticsSummary(
            count=count,
            firing=self.firing.cpu().numpy(),
            mean=mean,
            std=std,
            minimum=distribution.minimum.cpu().numpy(),
            maximum=distribution.maximum.cpu().numpy(),
            low=distribution.bins.low.cpu().numpy(),
            width=distribution.bins.width.cpu().numpy(),
            histogram=distribution.histogram.cpu().numpy(),
            class_mean=class_mean,
            class_count=class_count,
            samples=self.samples.summary(),
        )


#: Most selective classes kept per signed mode, and signed modes kept per class and basis.
TOP_CLASSES = 10
CLASS_MODES = 64

#: A mode whose scores' standard deviation is below this fraction of the largest score magnitude in its
#: (basis, layer) is constant up to rounding (e.g. a direction the residual stream never uses): its
#: "selectivity" would rank rounding noise, so it has none.
NOISE_FLOOR = 1e-6

#: A class mean over fewer images than this is marked where a selectivity is shown: its selectivity is
#: little more than those images' own z-scores, not a property of the class (docs/method.md#per-mode-statistics).
RELIABLE_CLASS_IMAGES = 5

SELECTIVITY_RULE = (
    "selectivity of a signed mode for class c = (mean score of c's images − mean score of all images) / standard "
    "deviation of all images' scores; a mode's top classes are its most selective ones, a class's modes the most "
    "selective for it, both among positive selectivities only (a class the mode scores below its mean is not one it "
    "prefers; inactive modes, classes without scored images and modes whose standard deviation is below "
    f"{NOISE_FLOOR:g} × the largest score magnitude of their basis and layer, i.e. constant up to rounding, have none)"
)


@dataclass(frozen=True)
class ClassRankings:
    """``top [C, T]`` int32 class ids (−1: none) and ``top_selectivity [C, T]`` float32, best first;
    ``modes [n_classes, n_bases, N]`` int64 columns within the basis (−1: none) and
    ``modes_selectivity [n_classes, n_bases, N]`` float32, best first. Unused slots hold 0 selectivity."""

    top: np.ndarray
    top_selectivity: np.ndarray
    modes: np.ndarray
    modes_selectivity: np.ndarray


def varying(summary: StatisticsSummary, n_blocks: int) -> np.ndarray:
    """``[C]`` bool: the columns whose score varies by more than rounding (``NOISE_FLOOR``); the
    columns form ``n_blocks`` equal (basis, layer) blocks."""
    with np.errstate(invalid="ignore"):
        magnitude = np.nan_to_num(np.maximum(np.abs(summary.minimum), np.abs(summary.maximum)), posinf=0.0)
    scale = magnitude.reshape(n_blocks, -1).max(axis=1, keepdims=True)
    varies: np.ndarray = summary.std.reshape(n_blocks, -1) > NOISE_FLOOR * scale
    return varies.reshape(-1)


def selectivity(summary: StatisticsSummary, active: np.ndarray, n_blocks: int) -> np.ndarray:
    """``[n_classes, C]`` float32: each class's selectivity for each column (``active [C]`` bool; the
    columns form ``n_blocks`` (basis, layer) blocks); −inf where it is undefined (inactive column,
    score constant up to rounding, class without scored images)."""
    valid = active & varying(summary, n_blocks) & (summary.count > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = (summary.class_mean - summary.mean) / summary.std
    defined = valid[None, :] & (summary.class_count > 0)[:, None] & np.isfinite(values)
    return np.where(defined, values, -np.inf).astype(np.float32)


def rank_classes(summary: StatisticsSummary, active: np.ndarray, layout: ColumnLayout) -> ClassRankings:
    """Each column's most selective classes and each class's most selective columns per basis, among
    positive selectivities (``active [C]``: the columns of active modes)."""
    scores = selectivity(summary, active, layout.n_blocks)  # [n_classes, C]
    scores[scores <= 0] = -np.inf
    n_classes = scores.shape[0]
    top, top_selectivity = _best(scores.T, TOP_CLASSES)
    per_basis = scores.reshape(n_classes * layout.n_bases, layout.basis_size)
    modes, modes_selectivity = _best(per_basis, CLASS_MODES)
    return ClassRankings(
        top=top.astype(np.int32),
        top_selectivity=top_selectivity,
        modes=modes.reshape(n_classes, layout.n_bases, -1),
        modes_selectivity=modes_selectivity.reshape(n_classes, layout.n_bases, -1),
    )


def _best(values: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``values [R, X]`` (−inf: not a candidate), the positions of the ``n`` largest, best
    first and ties by lower position → ``(positions [R, n] int64, −1 padded; values [R, n] float32,
    0 padded)``."""
    n_rows, width = values.shape
    keep = min(n, width)
    candidates = (
        np.argpartition(-values, keep - 1, axis=1)[:, :keep] if keep < width else np.tile(np.arange(width), (n_rows, 1))
    )
    picked = np.take_along_axis(values, candidates, axis=1)
    order = np.lexsort((candidates, -picked), axis=1)
    positions = np.take_along_axis(candidates, order, axis=1)
    best = np.take_along_axis(picked, order, axis=1)
    positions = np.where(np.isfinite(best), positions, -1)
    out_positions = np.full((n_rows, n), -1, dtype=np.int64)
    out_values = np.zeros((n_rows, n), dtype=np.float32)
    out_positions[:, :keep] = positions
    out_values[:, :keep] = np.where(np.isfinite(best), best, 0.0)
    return out_positions, out_values
