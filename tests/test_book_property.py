"""The order book against a naive reference: same fills, same resting book, every step."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from tapesim.venues.book import BUY, NO_ASK, NO_BID, SELL, Order, OrderBook


@dataclass
class RefOrder:
    oid: int
    side: int
    price: int
    qty: int
    arrival: int


class ReferenceBook:
    """A list of orders, matched by sorting on every call: slow and obviously right."""

    def __init__(self) -> None:
        self.orders: list[RefOrder] = []
        self.clock = 0

    def _queue(self, side: int) -> list[RefOrder]:
        book = [o for o in self.orders if o.side == -side]
        key = (lambda o: (o.price, o.arrival)) if side == BUY else (lambda o: (-o.price, o.arrival))
        return sorted(book, key=key)

    def execute(self, side: int, qty: int, limit: int | None) -> list[tuple[int, int, int]]:
        fills = []
        for o in self._queue(side):
            if qty == 0:
                break
            if limit is not None and (o.price > limit if side == BUY else o.price < limit):
                break
            take = min(qty, o.qty)
            o.qty -= take
            qty -= take
            fills.append((o.oid, take, o.price))
        self.orders = [o for o in self.orders if o.qty > 0]
        return fills

    def limit(self, oid: int, side: int, price: int, qty: int) -> list[tuple[int, int, int]]:
        fills = self.execute(side, qty, price)
        rest = qty - sum(f[1] for f in fills)
        if rest > 0:
            self.clock += 1
            self.orders.append(RefOrder(oid, side, price, rest, self.clock))
        return fills

    def cancel(self, oid: int) -> bool:
        before = len(self.orders)
        self.orders = [o for o in self.orders if o.oid != oid]
        return len(self.orders) < before

    def replace(self, oid: int, price: int, qty: int) -> list[tuple[int, int, int]]:
        order = next((o for o in self.orders if o.oid == oid), None)
        if order is None:
            return []
        if price == order.price and 0 < qty <= order.qty:
            order.qty = qty
            return []
        self.cancel(oid)
        return self.limit(oid, order.side, price, qty) if qty > 0 else []

    def levels(self, side: int) -> list[tuple[int, int]]:
        prices = sorted({o.price for o in self.orders if o.side == side}, reverse=side == BUY)
        return [(p, sum(o.qty for o in self.orders if o.side == side and o.price == p))
                for p in prices]


sides = st.sampled_from([BUY, SELL])
prices = st.integers(95, 105)
sizes = st.integers(1, 500)
operation = st.one_of(
    st.tuples(st.just("limit"), sides, prices, sizes),
    st.tuples(st.just("market"), sides, sizes),
    st.tuples(st.just("ioc"), sides, prices, sizes),
    st.tuples(st.just("cancel"), st.integers(0, 60)),
    st.tuples(st.just("replace"), st.integers(0, 60), prices, st.integers(0, 500)),
)


def _fills(fills) -> list[tuple[int, int, int]]:
    return [(o.oid, q, p) for o, q, p in fills]


@settings(max_examples=300, deadline=None)
@given(st.lists(operation, max_size=60))
def test_book_matches_reference(ops) -> None:
    book, ref = OrderBook(), ReferenceBook()
    next_oid = 0
    for op in ops:
        name = op[0]
        if name == "limit":
            _, side, price, qty = op
            got = _fills(book.limit(Order(next_oid, 0, side, price, qty)))
            assert got == ref.limit(next_oid, side, price, qty)
            next_oid += 1
        elif name == "market":
            _, side, qty = op
            assert _fills(book.execute(side, qty, None)) == ref.execute(side, qty, None)
        elif name == "ioc":
            _, side, price, qty = op
            assert _fills(book.execute(side, qty, price)) == ref.execute(side, qty, price)
        elif name == "cancel":
            assert (book.cancel(op[1]) is not None) == ref.cancel(op[1])
        else:
            _, oid, price, qty = op
            assert _fills(book.replace(oid, price, qty)) == ref.replace(oid, price, qty)
        for side in (BUY, SELL):
            assert book.levels(side) == ref.levels(side)
        bids, asks = ref.levels(BUY), ref.levels(SELL)
        assert book.best_bid == (bids[0][0] if bids else NO_BID)
        assert book.best_ask == (asks[0][0] if asks else NO_ASK)
        assert book.best_bid < book.best_ask  # never crossed
