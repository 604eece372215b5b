"""Throughput of a whole run: canonical events per wall second, peak memory and option load.

    python bench/throughput.py [--profile equities-day] [--workers 1] [--seed 1] [--repeat 3]
                               [--start HH:MM] [--end HH:MM] [--check]
    python bench/throughput.py --profile market-day --repeat 3 --check

Each repetition runs in a fresh Python process (so its peak RSS is its own) and
times one whole run (simulation, merge and Parquet writing included) into a
temporary directory. Afterwards, outside the timed part and after its peak RSS is
taken, the same process reads the run directory's Parquet files for the option
figures and measures SimPy's raw rate of timeouts with 1,000 processes (the
kernel's own ceiling). Figures per repetition:

  events_per_s          canonical events (manifest total) / wall seconds of the run
  simulated_s_per_s     simulated seconds, summed over the run's symbols, / wall seconds
  cpu_s                 user + system CPU seconds of the process that ran the run
  worker_cpu_s          the same, summed over its worker processes (0 in-process)
  cores_busy            (cpu_s + worker_cpu_s) / wall seconds: cores the run kept busy
  peak_rss_mib          peak RSS of the process that ran the run (merge and writing)
  peak_worker_rss_mib   peak RSS of its largest worker process (0 if simulated in-process)
  counts                canonical events per kind, and their total
  option_prints         OptionPrint events
  option_qtr            option quote-to-trade ratio: OptionNBBO events / OptionPrint events
  option_quote_fanout   OptionNBBO updates per underlying move: OptionNBBO events / the
                        number of underlying mid changes, where an underlying mid change
                        is an EquityQuote of an underlying that has options whose mid
                        (bid + ask) / 2 differs from that underlying's previous
                        EquityQuote in replay order (each underlying's first quote is not
                        a change); also per underlying, attributing each OptionNBBO to the
                        root of its contract id

Output: stdout carries one JSON object per line, one per repetition and then a
summary holding the median of every figure over the repetitions, the targets of
the profile, the check results and the definitions above; a readable digest goes
to stderr. ``--check`` exits 1 when a median misses a target of the profile and
names each missed target (see bench/README.md for the targets and when each is
checked). Exit codes: 0 ok, 1 target missed, 2 bad input, 3 a run failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Generator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow.parquet as pq
import simpy

if TYPE_CHECKING:
    from tapesim.config.run import RunConfig

GIB = 1024**3
MIB = 1024**2
BATCH_ROWS = 1 << 20

DEFINITIONS = {
    "events_per_s": "canonical events (manifest counts.total) / wall seconds of the whole run "
                    "(simulation, merge and Parquet writing)",
    "simulated_s_per_s": "simulated seconds summed over the run's symbols / wall seconds",
    "cpu_s": "user + system CPU seconds of the process that ran the run (the merge and "
             "writing; everything when it simulated in-process)",
    "worker_cpu_s": "user + system CPU seconds of its worker processes, summed (the "
                    "simulation; 0 when it simulated in-process)",
    "cores_busy": "(cpu_s + worker_cpu_s) / wall seconds of the run",
    "peak_rss_mib": "peak RSS of the process that ran the run, taken before any analysis",
    "peak_worker_rss_mib": ("peak RSS of the largest worker process, which simulates "
                            "(0 if the run was small enough to simulate in-process)"),
    "option_qtr": "OptionNBBO events / OptionPrint events",
    "option_quote_fanout": "OptionNBBO updates per underlying move: OptionNBBO events / "
                           "underlying mid changes, an underlying mid change being an "
                           "EquityQuote of an underlying with options whose mid (bid+ask)/2 "
                           "differs from that underlying's previous EquityQuote in replay "
                           "order (each underlying's first quote excluded); per underlying, "
                           "OptionNBBO events are attributed by the root of the contract id",
}


@dataclass(frozen=True)
class Targets:
    """The figures a profile must reach, as medians over the repetitions (``None``: the
    profile has no such target)."""

    min_events_per_s: float  # checked with --workers 1 only
    max_peak_rss_gib: float  # the larger of the process and its largest worker
    min_option_prints: int | None = None  # for the profile's window (not with --start/--end)
    min_option_qtr: float | None = None


TARGETS: dict[str, Targets] = {
    "market-day": Targets(min_events_per_s=500_000, max_peak_rss_gib=2.0,
                          min_option_prints=20_000, min_option_qtr=100.0),
    "equities-day": Targets(min_events_per_s=200_000, max_peak_rss_gib=2.0),
}


@dataclass(frozen=True)
class Check:
    target: str
    value: float | None
    limit: float
    ok: bool | None  # None: not checked (see note)
    note: str = ""


class BadInput(Exception):
    pass


# --- configuration -----------------------------------------------------------

def _clock(flag: str, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return dt.datetime.strptime(value, "%H:%M").time().isoformat()
    except ValueError:
        raise BadInput(f"{flag} {value!r} is not a time: use HH:MM, e.g. {flag} 10:00") from None


def resolve(profile: str, seed: int, start: str | None,
            end: str | None) -> tuple[RunConfig, bool]:
    """The run config, and whether its window is still the profile's own."""
    from tapesim.config.run import load_profile, with_overrides

    try:
        base = load_profile(profile)
        session = {k: v for k, v in (("start", _clock("--start", start)),
                                     ("end", _clock("--end", end))) if v is not None}
        overrides: dict[str, Any] = {"seed": seed}
        if session:
            overrides["session"] = session
        config = with_overrides(base, overrides)
    except BadInput:
        raise
    except Exception as e:  # unknown profile, window outside the session, ...
        raise BadInput(f"{type(e).__name__}: {e}") from None
    full = base.session.session()
    window = config.session.session()
    return config, (window.start_ns, window.end_ns) == (full.start_ns, full.end_ns)


# --- option figures from a run directory ------------------------------------

def underlying_mid_changes(run_dir: Path, symbols: set[str]) -> dict[str, int]:
    """Per symbol in ``symbols``: EquityQuote events whose mid differs from the symbol's
    previous EquityQuote in replay order (the first quote of each symbol not counted)."""
    changes = dict.fromkeys(sorted(symbols), 0)
    last: dict[str, int] = {}
    path = run_dir / "equity_quotes.parquet"
    if not symbols or not path.exists():
        return changes
    reader = pq.ParquetFile(path, read_dictionary=["underlying_id"])
    for batch in reader.iter_batches(BATCH_ROWS, columns=["underlying_id", "bid", "ask"]):
        ids = batch.column(0)
        codes = ids.indices.to_numpy(zero_copy_only=False)
        # twice the mid, in integer cents: exact, so equal mids compare equal
        mid2 = (np.rint(batch.column(1).to_numpy() * 100).astype(np.int64)
                + np.rint(batch.column(2).to_numpy() * 100).astype(np.int64))
        for code, sym in enumerate(ids.dictionary.to_pylist()):
            if sym not in symbols:
                continue
            m = mid2[codes == code]
            if m.size == 0:
                continue
            n = int(np.count_nonzero(m[1:] != m[:-1]))
            if sym in last and m[0] != last[sym]:
                n += 1
            changes[sym] += n
            last[sym] = int(m[-1])
    return changes


def option_nbbo_by_root(run_dir: Path) -> dict[str, int]:
    """OptionNBBO events per contract root."""
    from tapesim.events.contracts import parse_contract_id

    out: dict[str, int] = {}
    path = run_dir / "option_nbbo.parquet"
    if not path.exists():
        return out
    roots: dict[str, str] = {}
    reader = pq.ParquetFile(path, read_dictionary=["option_contract_id"])
    for batch in reader.iter_batches(BATCH_ROWS, columns=["option_contract_id"]):
        ids = batch.column(0)
        counts = np.bincount(ids.indices.to_numpy(zero_copy_only=False),
                             minlength=len(ids.dictionary))
        for cid, n in zip(ids.dictionary.to_pylist(), counts.tolist(), strict=True):
            if n:
                root = roots.get(cid)
                if root is None:
                    root = roots[cid] = parse_contract_id(cid).root
                out[root] = out.get(root, 0) + n
    return out


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def option_figures(run_dir: Path, counts: dict[str, int],
                   optioned: list[str]) -> dict[str, Any]:
    """Option prints, quote-to-trade ratio and quote fan-out of a finished run."""
    nbbo, prints = counts.get("option_nbbo", 0), counts.get("option_print", 0)
    moves = underlying_mid_changes(run_dir, set(optioned))
    by_root = option_nbbo_by_root(run_dir)
    total_moves = sum(moves.values())
    return {
        "option_prints": prints,
        "option_qtr": _ratio(nbbo, prints),
        "underlying_mid_changes": total_moves,
        "option_quote_fanout": _ratio(nbbo, total_moves),
        "per_underlying": {
            sym: {"option_nbbo": by_root.get(sym, 0), "mid_changes": moves[sym],
                  "option_quote_fanout": _ratio(by_root.get(sym, 0), moves[sym])}
            for sym in optioned},
    }


# --- one measured run --------------------------------------------------------

def simpy_timeouts_per_s(processes: int = 1000, per_process: int = 500) -> float:
    env = simpy.Environment()

    def proc(env: simpy.Environment, i: int) -> Generator[simpy.Event, None, None]:
        for _ in range(per_process):
            yield env.timeout(1 + (i % 7))

    for i in range(processes):
        env.process(proc(env, i))
    start = time.perf_counter()
    env.run()
    return processes * per_process / (time.perf_counter() - start)


def _cpu(who: int) -> float:
    """User + system CPU seconds of this process (``RUSAGE_SELF``) or of its reaped
    children (``RUSAGE_CHILDREN``)."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def measure_once(profile: str, workers: int, seed: int, start: str | None,
                 end: str | None) -> dict[str, Any]:
    """One run in this process; returns its figures."""
    from tapesim.runs import execute_run

    config, _ = resolve(profile, seed, start, end)
    session = config.session.session()
    simulated_s = (session.end_ns - session.start_ns) / 1e9 * len(config.symbols)
    optioned = [s.symbol for s in config.symbols if s.options]
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        self0, children0 = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        summary = execute_run(config, run_dir, workers=workers)
        wall = time.perf_counter() - t0
        cpu_s = _cpu(resource.RUSAGE_SELF) - self0
        worker_cpu_s = _cpu(resource.RUSAGE_CHILDREN) - children0
        peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        peak_worker_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
        counts: dict[str, int] = dict(summary.manifest["counts"])
        t1 = time.perf_counter()
        options = option_figures(run_dir, counts, optioned)
        analysis_s = time.perf_counter() - t1
    events = counts["total"]
    return {
        "events": events,
        "wall_s": wall,
        "events_per_s": events / wall,
        "simulated_s_per_s": simulated_s / wall,
        "cpu_s": cpu_s,
        "worker_cpu_s": worker_cpu_s,
        "cores_busy": (cpu_s + worker_cpu_s) / wall,
        "peak_rss_mib": peak_rss / MIB,
        "peak_worker_rss_mib": peak_worker_rss / MIB,
        "counts": counts,
        **options,
        "analysis_s": analysis_s,
        "simpy_timeouts_per_s": simpy_timeouts_per_s(),
    }


# --- repetitions, medians and checks -----------------------------------------

def median_of(values: list[Any]) -> Any:
    """The median of numbers, recursively through dicts; None when any value is None."""
    first = values[0]
    if isinstance(first, dict):
        return {k: median_of([v.get(k) for v in values]) for k in first}
    if any(v is None for v in values):
        return None
    m = statistics.median(values)
    return int(m) if isinstance(first, int) and m == int(m) else m


def check(figures: dict[str, Any], targets: Targets, workers: int,
          profile_window: bool) -> list[Check]:
    """Each target of the profile against the median figures."""
    rss_gib = max(figures["peak_rss_mib"], figures["peak_worker_rss_mib"]) * MIB / GIB
    qtr = figures["option_qtr"]
    out = []
    if workers == 1:
        out.append(Check("events_per_s", figures["events_per_s"], targets.min_events_per_s,
                         figures["events_per_s"] >= targets.min_events_per_s))
    else:
        out.append(Check("events_per_s", figures["events_per_s"], targets.min_events_per_s,
                         None, "not checked: the target is for one worker"))
    out.append(Check("peak_rss_gib", rss_gib, targets.max_peak_rss_gib,
                     rss_gib < targets.max_peak_rss_gib))
    if targets.min_option_prints is not None:
        prints = figures["option_prints"]
        out.append(Check("option_prints", prints, targets.min_option_prints,
                         prints >= targets.min_option_prints) if profile_window else
                   Check("option_prints", prints, targets.min_option_prints, None,
                         "not checked: a count over the profile's window, which "
                         "--start/--end changed"))
    if targets.min_option_qtr is not None:
        out.append(Check("option_qtr", qtr, targets.min_option_qtr,
                         qtr is not None and qtr >= targets.min_option_qtr))
    return out


def _hhmm(epoch_ms: int) -> str:
    """An epoch-ms time as HH:MM New York."""
    from zoneinfo import ZoneInfo

    at = dt.datetime.fromtimestamp(epoch_ms / 1000, ZoneInfo("America/New_York"))
    return f"{at:%H:%M}"


def _fmt(x: float | None, spec: str = ",.0f") -> str:
    return "n/a" if x is None else format(x, spec)


def digest(label: str, r: dict[str, Any]) -> str:
    counts = " ".join(f"{k}={v:,}" for k, v in r["counts"].items() if k != "total")
    return (f"{label}: events={r['events']:,} wall={r['wall_s']:.2f}s "
            f"events/s={r['events_per_s']:,.0f} simulated-s/s={r['simulated_s_per_s']:,.0f} "
            f"cpu={r['cpu_s']:.1f}s worker_cpu={r['worker_cpu_s']:.1f}s "
            f"cores_busy={r['cores_busy']:.2f} "
            f"peak_rss_mib={r['peak_rss_mib']:.0f} "
            f"peak_worker_rss_mib={r['peak_worker_rss_mib']:.0f} [{counts}] "
            f"option_qtr={_fmt(r['option_qtr'], '.1f')} "
            f"option_quote_fanout={_fmt(r['option_quote_fanout'], '.2f')} "
            f"(option_nbbo per underlying mid change) "
            f"simpy_timeouts/s={r['simpy_timeouts_per_s']:,.0f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="equities-day")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--start", help="window start, HH:MM New York (default: the profile's)")
    parser.add_argument("--end", help="window end, HH:MM New York, e.g. 10:00 for a short run")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when a median misses a target of the profile")
    parser.add_argument("--once", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.once:
        print(json.dumps(measure_once(args.profile, args.workers, args.seed, args.start,
                                      args.end)))
        return 0
    try:
        if args.workers < 1 or args.repeat < 1 or args.seed < 0:
            raise BadInput("--workers and --repeat must be >= 1, --seed >= 0")
        config, profile_window = resolve(args.profile, args.seed, args.start, args.end)
        targets = TARGETS.get(args.profile)
        if args.check and targets is None:
            raise BadInput(f"--check: no targets for profile {args.profile!r}; "
                           f"profiles with targets: {', '.join(TARGETS)}")
    except BadInput as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    session = config.session.session()
    window = {"date": session.date.isoformat(), "start": _hhmm(session.start_ms),
              "end": _hhmm(session.end_ms), "minutes": (session.end_ns - session.start_ns) / 60e9,
              "profile_window": profile_window}
    common = {"profile": args.profile, "workers": args.workers, "seed": args.seed,
              "window": window}
    child_args = ["--once", "--profile", args.profile, "--workers", str(args.workers),
                  "--seed", str(args.seed)]
    for flag, value in (("--start", args.start), ("--end", args.end)):
        if value is not None:
            child_args += [flag, value]
    runs: list[dict[str, Any]] = []
    for i in range(args.repeat):
        print(f"run {i + 1}/{args.repeat}: profile={args.profile} workers={args.workers} "
              f"seed={args.seed} window={window['minutes']:.0f} min ...",
              file=sys.stderr, flush=True)
        child = subprocess.run([sys.executable, __file__, *child_args],
                               stdout=subprocess.PIPE, text=True)
        if child.returncode != 0:
            print(f"error: run {i + 1} failed with exit code {child.returncode}",
                  file=sys.stderr)
            return 3
        r = json.loads(child.stdout.strip().splitlines()[-1])
        runs.append(r)
        print(json.dumps({"repeat": i + 1, **common, **r}), flush=True)
        print(digest(f"run {i + 1}", r), file=sys.stderr, flush=True)
    medians = median_of(runs)
    checks = (check(medians, targets, args.workers, profile_window)
              if targets is not None else [])
    missed = [c for c in checks if c.ok is False]
    print(json.dumps({
        "summary": True, **common, "repeats": len(runs), "median": medians,
        "targets": asdict(targets) if targets is not None else None,
        "checks": [asdict(c) for c in checks],
        "targets_missed": [c.target for c in missed] if args.check else None,
        "definitions": DEFINITIONS,
    }), flush=True)
    print(digest(f"median of {len(runs)}", medians), file=sys.stderr)
    for c in checks:
        state = {True: "ok", False: "MISSED", None: "skipped"}[c.ok]
        bound = ">=" if c.target != "peak_rss_gib" else "<"
        value = _fmt(c.value, ",.2f" if c.target in ("peak_rss_gib", "option_qtr") else ",.0f")
        print(f"target {c.target} {bound} {c.limit:,}: {value} {state}"
              f"{' (' + c.note + ')' if c.note else ''}", file=sys.stderr)
    if args.check and missed:
        print("targets missed: " + ", ".join(c.target for c in missed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
