"""The comparison figures of ``tapesim facts --plot``, drawn with matplotlib (Agg).

Per symbol, the simulated runs (pooled: every run's values together) beside the
real day when one is given: a five-minute NBBO-and-prints zoom, the one-minute
return histogram on a log scale, the distribution of trade durations, the intraday
volume and spread profiles, the print sizes; for a symbol with options, option volume
by days to expiry and by moneyness, and the quoted smile of the nearest front expiry at
three times of day. The arrays come from
:mod:`tapesim.calibration.views`. matplotlib is the ``plot`` extra
(``pip install 'tapesim[plot]'``); importing this module without it raises
``ImportError``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display, the same pixels everywhere

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from tapesim.calibration import views as vw
from tapesim.calibration.tape import NEW_YORK

SIM, REAL = "simulated", "real"


@dataclass(frozen=True)
class Side:
    """One side of a comparison: a label and its runs' tapes of one symbol."""

    label: str
    tapes: list[vw.SymbolTape]
    run_dirs: list[Path]

    def pooled(self, view: Callable[[vw.SymbolTape], np.ndarray]) -> np.ndarray:
        """``view`` of every run, concatenated."""
        return np.concatenate([view(t) for t in self.tapes]) if self.tapes else np.zeros(0)


def _log_bins(values: Sequence[np.ndarray], n: int = 40) -> np.ndarray:
    top = max((float(v.max()) for v in values if v.size), default=10.0)
    return np.logspace(0, np.log10(max(top, 10.0)), n)


def _zoom(sides: list[Side], symbol: str) -> Figure:
    fig, axes = plt.subplots(1, len(sides), figsize=(6 * len(sides), 4), squeeze=False)
    for ax, side in zip(axes[0], sides, strict=True):
        z = vw.zoom(side.tapes[0])
        minutes = lambda t, z=z: (t - z.lo) / 60_000  # noqa: E731
        ax.step(minutes(z.quote_ts), z.bid, where="post", lw=0.8, label="NBBO bid")
        ax.step(minutes(z.quote_ts), z.ask, where="post", lw=0.8, label="NBBO ask")
        lit = ~z.off_exchange
        ax.scatter(minutes(z.print_ts[lit]), z.price[lit], s=8, c="k", label="lit print")
        ax.scatter(minutes(z.print_ts[~lit]), z.price[~lit], s=8, facecolors="none",
                   edgecolors="k", label="off-exchange print")
        ax.set(xlabel="minutes", ylabel="dollars",
               title=f"{symbol} {side.label}: {z.price_changes} NBBO changes, "
                     f"{z.print_ts.size} prints")
        ax.legend(loc="upper left", fontsize=7)
    return fig


def _hist(sides: list[Side], view: Callable[[vw.SymbolTape], np.ndarray], title: str,
          xlabel: str, log_x: bool) -> Figure:
    fig, ax = plt.subplots(figsize=(7, 4))
    values = [side.pooled(view) for side in sides]
    if log_x:
        bins = _log_bins(values)
    else:
        top = max((float(np.abs(v).max()) for v in values if v.size), default=1.0)
        bins = np.linspace(-top, top, 41)
    for side, v in zip(sides, values, strict=True):
        ax.hist(v, bins=bins, density=True, histtype="step", lw=1.2,
                label=f"{side.label} (n = {v.size})")
    ax.set(yscale="log", xlabel=xlabel, ylabel="density", title=title)
    if log_x:
        ax.set_xscale("log")
    ax.legend(fontsize=8)
    return fig


def _profile(sides: list[Side], symbol: str) -> Figure:
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 5), sharex=True)
    for side in sides:
        for i, tape in enumerate(side.tapes):
            volume, spread = vw.minute_profile(tape)
            label = side.label if i == 0 else None
            colour = "C1" if side.label == REAL else "C0"
            top.plot(np.arange(volume.size), volume / max(volume.mean(), 1e-9), lw=0.8,
                     color=colour, alpha=0.8, label=label)
            bottom.plot(np.arange(spread.size), spread, lw=0.8, color=colour, alpha=0.8,
                        label=label)
    top.set(ylabel="volume / mean minute", title=f"{symbol}: volume and spread per minute")
    bottom.set(xlabel="minutes after the window's start", ylabel="spread (ticks)")
    top.legend(fontsize=8)
    return fig


def _options(sides: list[Side], symbol: str) -> Figure | None:
    volumes = [(side.label, [vw.option_volume(d, symbol) for d in side.run_dirs])
               for side in sides]
    drawn = [(label, [v for v in vs if v is not None]) for label, vs in volumes]
    drawn = [(label, vs) for label, vs in drawn if vs]
    if not drawn:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.5))
    width = 0.8 / len(drawn)
    for i, (label, vs) in enumerate(drawn):
        by_dte = np.sum([v.by_dte for v in vs], axis=0)
        by_money = np.sum([v.by_moneyness for v in vs], axis=0)
        x = np.arange(len(vw.DTE_BUCKETS)) + i * width
        left.bar(x, by_dte / max(by_dte.sum(), 1.0), width=width, label=label)
        x = np.arange(len(vw.MONEYNESS_LABELS)) + i * width
        right.bar(x, by_money / max(by_money.sum(), 1.0), width=width, label=label)
    left.set_xticks(np.arange(len(vw.DTE_BUCKETS)), [b[0] for b in vw.DTE_BUCKETS])
    right.set_xticks(np.arange(len(vw.MONEYNESS_LABELS)), vw.MONEYNESS_LABELS)
    left.set(title=f"{symbol} option volume by DTE", ylabel="share of contracts")
    right.set(title="option volume by moneyness (K/S - 1)")
    left.legend(fontsize=8)
    return fig


def _smiles(sides: list[Side], symbol: str) -> Figure | None:
    curves = [(side.label, vw.option_smiles(side.run_dirs[0], symbol)) for side in sides]
    curves = [(label, c) for label, c in curves if any(m.size for _t, m, _iv in c)]
    if not curves:
        return None
    fig, axes = plt.subplots(1, len(curves), figsize=(6 * len(curves), 3.5), squeeze=False)
    for ax, (label, smiles) in zip(axes[0], curves, strict=True):
        for at, money, iv in smiles:
            clock = dt.datetime.fromtimestamp(at / 1000, tz=dt.UTC).astimezone(NEW_YORK)
            ax.plot(100 * money, 100 * iv, marker=".", lw=0.8, label=f"{clock:%H:%M}")
        ax.set(title=f"{symbol} {label}: nearest front expiry smile",
               xlabel="moneyness K/S - 1 (%)", ylabel="mid implied vol (%)")
        ax.legend(fontsize=8)
    return fig


def write_figures(out_dir: Path, sim_dirs: list[Path], symbols: list[str],
                  reference: Path | None = None) -> list[Path]:
    """Draw every comparison figure of ``symbols`` into ``out_dir`` as PNG files.

    Args:
        out_dir: created if missing; files are named ``SYMBOL_VIEW.png``.
        sim_dirs: the simulated run directories (pooled).
        symbols: symbols present in every run (and in ``reference`` when given).
        reference: a real (imported) run directory drawn beside the simulated runs.

    Returns:
        the written files, in order.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for symbol in symbols:
        sides = [Side(SIM, [vw.SymbolTape.load(d, symbol) for d in sim_dirs], sim_dirs)]
        if reference is not None:
            sides.append(Side(REAL, [vw.SymbolTape.load(reference, symbol)], [reference]))
        figures = {
            "zoom": _zoom(sides, symbol),
            "returns": _hist(sides, vw.returns_1m, f"{symbol}: one-minute log returns",
                             "log return", log_x=False),
            "durations": _hist(sides, vw.positive_durations, f"{symbol}: trade durations",
                               "ms between prints (positive gaps)", log_x=True),
            "profile": _profile(sides, symbol),
            "sizes": _hist(sides, lambda t: t.prints.size.astype(np.float64),
                           f"{symbol}: print sizes", "shares", log_x=True),
            "options": _options(sides, symbol),
            "smile": _smiles(sides, symbol),
        }
        for name, fig in figures.items():
            if fig is None:
                continue
            path = out_dir / f"{symbol}_{name}.png"
            fig.tight_layout()
            fig.savefig(path, dpi=90)
            plt.close(fig)
            written.append(path)
    return written

