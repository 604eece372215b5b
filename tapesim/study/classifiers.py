"""Running a classifier over one cell's run: the two forms of the classifier protocol.

- A Python entry point ``"module:function"``: ``function(batches)`` takes an iterator
  of :class:`~tapesim.events.batches.GeneratedEventBatch` (Arrow record batches of one
  event kind each, concatenated in replay order) and returns an iterable of alerts
  (:class:`~tapesim.study.alerts.Alert` or mappings of its JSON fields). It is called
  once per cell, so any state it keeps starts fresh with each cell.
- An external command: it reads the events as JSON lines on stdin, one
  ``{"event": {...}, "kind": "option_print"}`` per line in replay order (the pipeline's
  ``market-events`` entry, CONTRACT.md §2, with the §1 event JSON), and writes one
  alert JSON object per line on stdout, then exits 0.

The feed (``ClassifierSpec.feed``) selects the events: the signal option prints (those
with ``signal_pass``, what the pipeline's classifier subscribes to), every option
print, or all four kinds. docs/CLASSIFIERS.md has a worked example of each form.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from tapesim.api.run import open_run
from tapesim.events.batches import GeneratedEventBatch
from tapesim.events.models import KINDS_BY_NAME
from tapesim.io.event_json import encode_events
from tapesim.io.parquet import streaming
from tapesim.io.seq_merge import merge_by_seq
from tapesim.study.alerts import Alert, parse_alert
from tapesim.study.errors import ClassifierError
from tapesim.study.spec import ClassifierSpec, Feed

ClassifierFn = Callable[[Iterator[GeneratedEventBatch]], Iterable[Alert | dict[str, Any]]]
BATCH_ROWS = 1 << 16
_STDERR_TAIL = 3  # lines of an external classifier's stderr quoted in an error


def _signal(batch: pa.RecordBatch) -> pa.RecordBatch:
    return batch.filter(pc.fill_null(batch.column("signal_pass"), False))


def cell_batches(run_dir: Path, feed: Feed) -> Iterator[GeneratedEventBatch]:
    """The events a classifier of ``feed`` is given, in replay order.

    Raises:
        RunDirectoryError: the run directory is damaged.
    """
    run = open_run(run_dir)
    kinds = run.replay_plan().kinds if feed == "all" else ["option_print"]
    kinds = [k for k in kinds if run.manifest.counts.get(k, 0) > 0]

    def stream(kind: str) -> Iterator[pa.RecordBatch]:
        path = run_dir / f"{KINDS_BY_NAME[kind].file_stem}.parquet"
        for batch in streaming(path).iter_batches(batch_size=BATCH_ROWS):
            yield _signal(batch) if feed == "signal_prints" else batch

    yield from merge_by_seq({k: stream(k) for k in kinds}, where=str(run_dir))


def load_entry_point(entry_point: str) -> ClassifierFn:
    """The function an entry point ``"module:function"`` names.

    Raises:
        ClassifierError: the module cannot be imported or has no such callable.
    """
    module_name, _, attr = entry_point.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as err:
        raise ClassifierError(f"classifier.entry_point {entry_point!r}: cannot import "
                              f"{module_name!r} ({type(err).__name__}: {err})") from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ClassifierError(f"classifier.entry_point {entry_point!r}: {module_name} has no "
                              f"function {attr!r}")
    return fn  # type: ignore[no-any-return]


def identity(spec: ClassifierSpec, base_dir: Path) -> dict[str, Any]:
    """What identifies the classifier in a study manifest: its form, name, feed and
    the sha256 of its source: the entry point's module file (or, when that module lists
    its files in ``CLASSIFIER_SOURCES``, those files' bytes in order, as the reference
    classifier does for its rules), or the command's first argument that is a file,
    such as a script."""
    out: dict[str, Any] = {"name": spec.label, "feed": spec.feed}
    sources: list[Path] = []
    if spec.entry_point is not None:
        out["entry_point"] = spec.entry_point
        fn = load_entry_point(spec.entry_point)
        listed = getattr(inspect.getmodule(fn), "CLASSIFIER_SOURCES", None)
        found = inspect.getsourcefile(fn)
        sources = ([Path(f) for f in listed] if listed is not None
                   else [Path(found)] if found else [])
    else:
        out["command"] = list(spec.command or [])
        sources = [base_dir / a for a in spec.command or [] if (base_dir / a).is_file()][:1]
    digest = hashlib.sha256()
    for source in sources:
        digest.update(source.read_bytes())
    out["source_sha256"] = digest.hexdigest() if sources else None
    return out


def _python(spec: ClassifierSpec, run_dir: Path, cell_id: str) -> list[Alert]:
    fn = load_entry_point(spec.entry_point or "")
    try:
        produced = list(fn(cell_batches(run_dir, spec.feed)))
    except ClassifierError:
        raise
    except Exception as err:
        raise ClassifierError(f"cell {cell_id}: classifier {spec.entry_point} raised "
                              f"{type(err).__name__}: {err}") from None
    return [parse_alert(a, f"cell {cell_id}: classifier alert {i + 1}")
            for i, a in enumerate(produced)]


def write_event_lines(run_dir: Path, feed: Feed, sink: Any) -> int:
    """Write the feed's events to the binary file ``sink`` as JSON lines
    (``{"event": {...}, "kind": ...}``, stable JSON); the number of lines."""
    lines = 0
    for group in cell_batches(run_dir, feed):
        head = b'{"event":'
        tail = f',"kind":"{group.kind}"}}\n'.encode()
        for text in encode_events(group.batch):
            sink.write(head + text.encode() + tail)
        lines += group.num_rows
    return lines


def _external(spec: ClassifierSpec, run_dir: Path, cell_id: str, base_dir: Path,
              ) -> list[Alert]:
    argv = list(spec.command or [])
    with tempfile.TemporaryFile() as events:
        write_event_lines(run_dir, spec.feed, events)
        events.seek(0)
        try:
            done = subprocess.run(argv, stdin=events, capture_output=True, cwd=base_dir,
                                  check=False)
        except OSError as err:
            raise ClassifierError(f"cell {cell_id}: classifier.command {argv[0]!r} cannot be "
                                  f"started ({err.strerror or err})") from None
    if done.returncode != 0:
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-_STDERR_TAIL:]
        said = f": {' | '.join(tail)}" if tail else ""
        raise ClassifierError(f"cell {cell_id}: classifier.command exited with code "
                              f"{done.returncode}{said}")
    alerts: list[Alert] = []
    for number, line in enumerate(done.stdout.decode("utf-8", "replace").splitlines(), 1):
        if not line.strip():
            continue
        where = f"cell {cell_id}: classifier output line {number}"
        try:
            value = json.loads(line)
        except json.JSONDecodeError as err:
            raise ClassifierError(f"{where} is not JSON ({err.msg}): {line[:80]!r}") from None
        alerts.append(parse_alert(value, where))
    return alerts


def classify(spec: ClassifierSpec, run_dir: Path, cell_id: str, base_dir: Path,
             ) -> list[Alert]:
    """The alerts the study's classifier states over one cell's run.

    Args:
        spec: the classifier.
        run_dir: the cell's run directory.
        cell_id: the cell's id, for error messages.
        base_dir: the study file's directory (an external command's working directory).

    Raises:
        ClassifierError: the classifier cannot be loaded or started, raises or exits
            non-zero, or writes a line that is not an alert (named by number and field).
    """
    if spec.entry_point is not None:
        return _python(spec, run_dir, cell_id)
    return _external(spec, run_dir, cell_id, base_dir)
