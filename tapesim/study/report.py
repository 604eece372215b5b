"""``tapesim study report`` and ``compare``: a study directory rendered and two set side
by side.

:func:`render_report` writes ``report.html`` into a complete study directory: the
classifier and grid, the rates table with Wilson intervals and, when matplotlib is
installed, plots (detection rate against intensity per scenario, false positives per
2,000 one-minute windows per band, expected class against alerted class, detection
latency, abstention and pass rates on the traps). :func:`compare_rows` lines up two
studies' rates over the same cells.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from tapesim.study.errors import StudyDirectoryError
from tapesim.study.tables import read_study

REPORT = "report.html"
_KEY = ("metric", "group", "band", "intensity")


class StudyMismatch(StudyDirectoryError):
    """Two studies that do not share their cells (compare needs the same runs)."""


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def rate_text(row: dict[str, Any]) -> str:
    """A rate row as ``value [low, high] (k/n)``."""
    if row["value"] is None:
        return "-"
    ci = "" if row["ci_low"] is None else f" [{_fmt(row['ci_low'])}, {_fmt(row['ci_high'])}]"
    kn = "" if row["k"] is None else f" ({row['k']}/{row['n']})"
    return f"{_fmt(row['value'])}{ci}{kn}"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
                   for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def study_figures(tables: dict[str, pa.Table]) -> list[tuple[str, Any]]:
    """(title, matplotlib Figure) of each of the report's plots, from a study's tables
    (:func:`tapesim.study.tables.read_study`): detection rate against intensity per
    scenario, false positives per 2,000 background windows per band, expected against
    alerted class, detection latency, and pass and abstention rates on the traps; every
    rate with its 95% Wilson interval. The caller closes the figures.

    Raises:
        ImportError: matplotlib is not installed.
    """
    import matplotlib.pyplot as plt  # optional: the report degrades to tables without it

    scores = tables["scores"].to_pylist()
    outcomes = tables["outcomes"].to_pylist()
    out: list[tuple[str, Any]] = []

    def png(title: str, draw: Callable[[Any], None]) -> None:
        fig, ax = plt.subplots(figsize=(7, 3.6))
        draw(ax)
        ax.set_title(title)
        fig.tight_layout()
        out.append((title, fig))

    def errorbars(ax: Any, rows: list[dict[str, Any]], xs: list[Any], label: str) -> None:
        ys = [r["value"] or 0.0 for r in rows]
        lo = [y - (r["ci_low"] or 0.0) for y, r in zip(ys, rows, strict=True)]
        hi = [(r["ci_high"] or 0.0) - y for y, r in zip(ys, rows, strict=True)]
        ax.errorbar(xs, ys, yerr=[lo, hi], marker="o", capsize=3, label=label)

    detection = [r for r in scores if r["metric"] == "detection_rate"
                 and r["intensity"] is not None]
    if detection:
        def draw_detection(ax: Any) -> None:
            for scenario in sorted({r["group"] for r in detection}):
                rows = sorted((r for r in detection if r["group"] == scenario),
                              key=lambda r: r["intensity"])
                errorbars(ax, rows, [r["intensity"] for r in rows], scenario)
            ax.set_xlabel("intensity")
            ax.set_ylabel("detection rate")
            ax.set_ylim(-0.05, 1.05)
            ax.legend(fontsize=6)
        png("Detection rate against intensity (95% Wilson)", draw_detection)
    fp = [r for r in scores if r["metric"] == "fp_per_2000_windows"]

    def draw_fp(ax: Any) -> None:
        errorbars(ax, fp, [r["band"] for r in fp], "false positives")
        ax.set_ylabel("per 2,000 one-minute windows")
    png("False positives on background per confidence band (95% Wilson)", draw_fp)
    pairs = [(o["expected_class"], o["alert_class"] or "(none)") for o in outcomes
             if o["outcome"] != "no_caused_prints"]
    if pairs:
        def draw_confusion(ax: Any) -> None:
            rows = sorted({p[0] for p in pairs})
            cols = sorted({p[1] for p in pairs})
            grid = [[sum(p == (r, c) for p in pairs) for c in cols] for r in rows]
            ax.imshow(grid, cmap="Blues")
            ax.set_xticks(range(len(cols)), cols, rotation=30, ha="right", fontsize=6)
            ax.set_yticks(range(len(rows)), rows, fontsize=6)
            for i, line in enumerate(grid):
                for j, n in enumerate(line):
                    ax.text(j, i, str(n), ha="center", va="center", fontsize=7)
        png("Expected class (rows) against alerted class (columns)", draw_confusion)
    latency = [o["latency_ms"] / 1000 for o in outcomes if o["latency_ms"] is not None]
    if latency:
        def draw_latency(ax: Any) -> None:
            ax.hist(latency, bins=20)
            ax.set_xlabel("seconds after the first caused print")
        png("Alert latency after injection", draw_latency)
    traps = [r for r in scores if r["metric"] in ("trap_pass_rate", "trap_abstention_rate")
             and r["group"] != "all"]
    if traps:
        def draw_traps(ax: Any) -> None:
            for metric in ("trap_pass_rate", "trap_abstention_rate"):
                rows = [r for r in traps if r["metric"] == metric]
                errorbars(ax, rows, [r["group"] for r in rows], metric)
            ax.tick_params(axis="x", labelrotation=30, labelsize=6)
            ax.set_ylim(-0.05, 1.05)
            ax.legend(fontsize=6)
        png("No alert and abstention on the traps (95% Wilson)", draw_traps)
    return out


def _plots(tables: dict[str, pa.Table]) -> list[tuple[str, str]]:
    """(title, base64 PNG) of each plot; empty when matplotlib is not installed."""
    try:
        import matplotlib  # optional: the report degrades to tables without it

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    out = []
    for title, fig in study_figures(tables):
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=90)
        plt.close(fig)
        out.append((title, base64.b64encode(buf.getvalue()).decode()))
    return out


def render_report(study_dir: Path) -> Path:
    """Write ``report.html`` into a complete study directory; its path.

    Raises:
        StudyDirectoryError: not a complete study directory, or a damaged one.
    """
    manifest, tables = read_study(study_dir)
    scores = tables["scores"].to_pylist()
    cells = tables["cells"].to_pylist()
    parts = [f"<h1>Study {html.escape(manifest['study']['name'])}</h1>",
             f"<p>classifier: <code>{html.escape(manifest['classifier']['name'])}</code> "
             f"(feed {html.escape(manifest['classifier']['feed'])}); {len(cells)} cells; "
             f"tapesim {html.escape(manifest['generator']['version'])}</p>",
             "<h2>Rates</h2>",
             _table(["metric", "group", "band", "intensity", "value [95% CI] (k/n)"],
                    [[r["metric"], r["group"], r["band"], _fmt(r["intensity"]), rate_text(r)]
                     for r in scores])]
    plots = _plots(tables)
    if plots:
        parts.append("<h2>Plots</h2>")
        parts += [f"<h3>{html.escape(t)}</h3><img src='data:image/png;base64,{b}'/>"
                  for t, b in plots]
    else:
        parts.append("<p>(install matplotlib for plots)</p>")
    parts += ["<h2>Cells</h2>", _table(
        ["cell", "run", "labels", "alerts", "abstentions", "background windows",
         "fp low/medium/high"],
        [[c["cell_id"], c["run_id"], str(c["labels"]), str(c["alerts"]), str(c["abstentions"]),
          str(c["background_windows"]),
          f"{c['fp_windows_low']}/{c['fp_windows_medium']}/{c['fp_windows_high']}"]
         for c in cells])]
    style = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:2px 6px;font-size:12px}")
    text = (f"<!doctype html><html><head><meta charset='utf-8'><style>{style}</style>"
            f"<title>tapesim study</title></head><body>{''.join(parts)}</body></html>\n")
    path = study_dir / REPORT
    path.write_text(text, "utf-8")
    return path


def compare_rows(dir_a: Path, dir_b: Path) -> tuple[dict[str, Any], dict[str, Any],
                                                    list[tuple[dict[str, Any] | None,
                                                               dict[str, Any] | None]]]:
    """Two studies' manifests and their rate rows paired by (metric, group, band,
    intensity), in A's order then B's extra rows.

    Raises:
        StudyDirectoryError: as :func:`read_study`.
        StudyMismatch: the studies' cells or runs differ (names the first cell).
    """
    man_a, tab_a = read_study(dir_a)
    man_b, tab_b = read_study(dir_b)
    runs_a = {c["cell_id"]: c["event_stream_sha256"] for c in man_a["cells"]}
    runs_b = {c["cell_id"]: c["event_stream_sha256"] for c in man_b["cells"]}
    for cell in sorted(set(runs_a) | set(runs_b)):
        if runs_a.get(cell) != runs_b.get(cell):
            raise StudyMismatch(f"cell {cell} is not the same run in {dir_a} and {dir_b}: "
                                "compare studies of the same grid (and tapesim version)")
    rows_a = {tuple(r[k] for k in _KEY): r for r in tab_a["scores"].to_pylist()}
    rows_b = {tuple(r[k] for k in _KEY): r for r in tab_b["scores"].to_pylist()}
    keys = list(rows_a) + [k for k in rows_b if k not in rows_a]
    return man_a, man_b, [(rows_a.get(k), rows_b.get(k)) for k in keys]
