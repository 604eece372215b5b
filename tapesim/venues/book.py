"""A limit order book for one instrument on one venue.

Prices are integer ticks (cents for equities), so comparisons are exact and every
price is on the grid by construction. Priority is price, then time: each price
level is a FIFO deque, and levels live in a ``SortedDict`` per side. The book only
matches and rests orders; who traded with whom, and what the tape says about it,
is the venue's business.
"""

from __future__ import annotations

from collections import deque

from sortedcontainers import SortedDict

BUY = 1
SELL = -1
NO_BID = 0
NO_ASK = 1 << 62


class Order:
    """A resting order: identity, owner, side, limit price in ticks, remaining size."""

    __slots__ = ("agent", "oid", "price", "qty", "side", "tag")

    def __init__(self, oid: int, agent: int, side: int, price: int, qty: int, tag: int = -1):
        self.oid = oid
        self.agent = agent
        self.side = side
        self.price = price
        self.qty = qty
        self.tag = tag  # owner-defined (e.g. a parent order id); carried onto fills


Fill = tuple[Order, int, int]  # (passive order, quantity, price in ticks)


class OrderBook:
    """Price-time priority book. Limit, market, IOC, cancel and replace."""

    __slots__ = ("_asks", "_bids", "_orders", "best_ask", "best_bid")

    def __init__(self) -> None:
        self._bids: SortedDict = SortedDict()
        self._asks: SortedDict = SortedDict()
        self._orders: dict[int, Order] = {}
        self.best_bid = NO_BID
        self.best_ask = NO_ASK

    def __contains__(self, oid: int) -> bool:
        return oid in self._orders

    def __len__(self) -> int:
        return len(self._orders)

    def order(self, oid: int) -> Order | None:
        """The resting order with id ``oid``, or ``None`` when it is not (or no longer) in
        the book."""
        return self._orders.get(oid)

    def _refresh(self) -> None:
        self.best_bid = self._bids.peekitem(-1)[0] if self._bids else NO_BID
        self.best_ask = self._asks.peekitem(0)[0] if self._asks else NO_ASK

    def depth(self, side: int, price: int) -> int:
        """Total resting size (shares) at one price (ticks) on one side (``BUY`` or
        ``SELL``)."""
        levels = self._bids if side == BUY else self._asks
        level = levels.get(price)
        return sum(o.qty for o in level) if level else 0

    def levels(self, side: int) -> list[tuple[int, int]]:
        """(price in ticks, total size) per level of ``side``, best first."""
        levels = self._bids if side == BUY else self._asks
        prices = reversed(levels.keys()) if side == BUY else iter(levels.keys())
        return [(p, sum(o.qty for o in levels[p])) for p in prices]

    def execute(self, side: int, qty: int, limit: int | None) -> list[Fill]:
        """Match an incoming order of ``side`` against the opposite side, up to ``limit``.

        ``side`` is ``BUY`` or ``SELL``, ``qty`` the size, ``limit`` the worst price in
        ticks; ``limit`` None is a market order. Returns the fills in execution order
        (passive order, quantity, price in ticks: each fill trades at the resting
        order's price); the unfilled remainder is the caller's (an IOC discards it, a
        limit rests it).
        """
        fills: list[Fill] = []
        if side == BUY:
            levels = self._asks
            while qty > 0 and levels:
                price, level = levels.peekitem(0)
                if limit is not None and price > limit:
                    break
                qty = self._take(level, price, qty, fills)
                if not level:
                    del levels[price]
        else:
            levels = self._bids
            while qty > 0 and levels:
                price, level = levels.peekitem(-1)
                if limit is not None and price < limit:
                    break
                qty = self._take(level, price, qty, fills)
                if not level:
                    del levels[price]
        if fills:
            self._refresh()
        return fills

    def _take(self, level: deque[Order], price: int, qty: int, fills: list[Fill]) -> int:
        orders = self._orders
        while qty > 0 and level:
            head = level[0]
            take = head.qty if head.qty <= qty else qty
            head.qty -= take
            qty -= take
            fills.append((head, take, price))
            if head.qty == 0:
                level.popleft()
                del orders[head.oid]
        return qty

    def rest(self, order: Order) -> None:
        """Add a non-marketable order at the back of its price level.

        Raises ``ValueError`` when its size is not positive, its id is already on the
        book, or its price would lock or cross the opposite best price.
        """
        if order.qty <= 0:
            raise ValueError("resting order size must be positive")
        if order.oid in self._orders:
            raise ValueError(f"duplicate order id {order.oid}")
        if (order.side == BUY and order.price >= self.best_ask) or (
            order.side == SELL and order.price <= self.best_bid
        ):
            raise ValueError("a resting order must not cross the book")
        levels = self._bids if order.side == BUY else self._asks
        level = levels.get(order.price)
        if level is None:
            levels[order.price] = deque((order,))
        else:
            level.append(order)
        self._orders[order.oid] = order
        if order.side == BUY:
            if order.price > self.best_bid:
                self.best_bid = order.price
        elif order.price < self.best_ask:
            self.best_ask = order.price

    def limit(self, order: Order) -> list[Fill]:
        """A limit order: match what crosses, rest the remainder (keeping ``order``'s
        id); returns the fills. Raises ``ValueError`` as :meth:`rest` does."""
        fills = self.execute(order.side, order.qty, order.price)
        order.qty -= sum(f[1] for f in fills)
        if order.qty > 0:
            self.rest(order)
        return fills

    def cancel(self, oid: int) -> Order | None:
        """Remove a resting order; None if it is no longer on the book."""
        order = self._orders.pop(oid, None)
        if order is None:
            return None
        levels = self._bids if order.side == BUY else self._asks
        level = levels[order.price]
        level.remove(order)
        if not level:
            del levels[order.price]
            if order.price == self.best_bid or order.price == self.best_ask:
                self._refresh()
        return order

    def replace(self, oid: int, price: int, qty: int) -> list[Fill]:
        """Change an order's price or size.

        A size decrease at the same price keeps time priority; anything else is a
        cancel and a new limit order (which may trade if it now crosses). ``price`` is
        in ticks; ``qty`` 0 or less cancels. Returns the new order's fills; an unknown
        ``oid`` is ignored (no fills).
        """
        order = self._orders.get(oid)
        if order is None:
            return []
        if price == order.price and 0 < qty <= order.qty:
            order.qty = qty
            return []
        self.cancel(oid)
        if qty <= 0:
            return []
        return self.limit(Order(oid, order.agent, order.side, price, qty, order.tag))
