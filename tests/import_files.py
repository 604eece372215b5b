"""Small source files in vendor formats, written by the tests themselves.

:func:`lobster_pair` runs a toy price-time-priority book (one stock around $100, a
cent tick) through a few hundred seeded messages and writes LOBSTER's two files the
way LOBSTER does: every message line paired with the book after it, empty levels as
the dummy prices. It returns the rows too, so a test can check the import against
them value by value. No third-party data is involved.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TICK = 100  # one cent in LOBSTER's dollars x 10000
START_NS = 34_200 * 10**9  # 09:30:00 after midnight
EMPTY_ASK, EMPTY_BID = 9_999_999_999, -9_999_999_999


@dataclass
class LobsterPair:
    """Paths of a written LOBSTER pair and their rows (messages: time text, type, order
    id, size, price, direction; book rows: 4 x levels ints)."""

    message: Path
    orderbook: Path
    messages: list[tuple[str, int, int, int, int, int]]
    book: list[list[int]]


def _levels(side: dict[int, list[list[int]]], descending: bool, levels: int,
            empty: int) -> list[tuple[int, int]]:
    prices = sorted(side, reverse=descending)[:levels]
    out = [(p, sum(o[1] for o in side[p])) for p in prices]
    return out + [(empty, 0)] * (levels - len(out))


def lobster_pair(folder: Path, day: dt.date, symbol: str = "AMZN", n: int = 400,
                 levels: int = 2, seed: int = 7) -> LobsterPair:
    """Write ``SYMBOL_DAY_34200000_57600000_{message,orderbook}_LEVELS.csv`` in ``folder``.

    The book starts empty (its first lines are one-sided), then each message is a
    submission, partial cancellation, deletion, visible execution at the best level
    (front of the queue) or hidden execution at a best price, drawn from ``seed``.
    """
    rng = np.random.default_rng(seed)
    bids: dict[int, list[list[int]]] = {}
    asks: dict[int, list[list[int]]] = {}
    orders: dict[int, tuple[int, int]] = {}  # id -> (side, price)
    messages: list[tuple[str, int, int, int, int, int]] = []
    book: list[list[int]] = []
    ns, next_id = START_NS, 1000
    for i in range(n):
        # Now and then a message at the same ns as the one before it.
        ns += 0 if i % 97 == 50 else int(rng.integers(1, 800_000_000))
        best_bid = max(bids) if bids else None
        best_ask = min(asks) if asks else None
        choice = rng.random()
        if i < 6 or not orders or choice < 0.45:
            side = 1 if (i % 2 == 0 if i < 6 else rng.random() < 0.5) else -1
            step = TICK * int(rng.integers(-2, 2))  # from two ticks behind to one inside
            if side == 1:
                price = (best_bid + step) if best_bid else 1_000_000
                if best_ask is not None:
                    price = min(price, best_ask - TICK)
            else:
                price = (best_ask - step) if best_ask else 1_000_100
                if best_bid is not None:
                    price = max(price, best_bid + TICK)
            size = int(rng.choice([100, 200, 50, 300, 17]))
            book_side = bids if side == 1 else asks
            book_side.setdefault(price, []).append([next_id, size])
            orders[next_id] = (side, price)
            messages.append(("", 1, next_id, size, price, side))
            next_id += 1
        elif choice < 0.7:
            oid = int(rng.choice(sorted(orders)))
            side, price = orders[oid]
            book_side = bids if side == 1 else asks
            entry = next(o for o in book_side[price] if o[0] == oid)
            if choice < 0.55 and entry[1] > 1:
                cut = int(rng.integers(1, entry[1]))
                entry[1] -= cut
                messages.append(("", 2, oid, cut, price, side))
            else:
                book_side[price].remove(entry)
                if not book_side[price]:
                    del book_side[price]
                del orders[oid]
                messages.append(("", 3, oid, entry[1], price, side))
        elif choice < 0.9:
            side = 1 if (bids and (not asks or rng.random() < 0.5)) else -1
            book_side = bids if side == 1 else asks
            price = max(book_side) if side == 1 else min(book_side)
            entry = book_side[price][0]
            size = entry[1] if rng.random() < 0.7 else int(rng.integers(1, entry[1] + 1))
            entry[1] -= size
            if entry[1] == 0:
                book_side[price].pop(0)
                if not book_side[price]:
                    del book_side[price]
                del orders[entry[0]]
            messages.append(("", 4, entry[0], size, price, side))
        else:
            side = 1 if rng.random() < 0.5 else -1
            price = (best_bid if side == 1 else best_ask) or 1_000_000
            messages.append(("", 5, 0, int(rng.choice([100, 30])), price, side))
        text = f"{ns // 10**9}.{ns % 10**9:09d}"
        messages[-1] = (text, *messages[-1][1:])
        row: list[int] = []
        for (ap, az), (bp, bz) in zip(_levels(asks, False, levels, EMPTY_ASK),
                                      _levels(bids, True, levels, EMPTY_BID), strict=True):
            row += [ap, az, bp, bz]
        book.append(row)
    stem = f"{symbol}_{day.isoformat()}_34200000_57600000"
    message = folder / f"{stem}_message_{levels}.csv"
    orderbook = folder / f"{stem}_orderbook_{levels}.csv"
    message.write_text("".join(",".join(map(str, m)) + "\n" for m in messages))
    orderbook.write_text("".join(",".join(map(str, r)) + "\n" for r in book))
    return LobsterPair(message, orderbook, messages, book)
