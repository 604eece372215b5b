"""Positions and cash of every agent in a shard: shares and cents, contracts and premium.

Every execution moves shares (or contracts) from seller to buyer and cash (or
premium) the other way, so at any moment both sum to zero across agents: the
conservation invariant the tests check and the manifest records.

These ledgers are the one store of positions. The venues book every execution in
them; agents read their own inventory from them (the equity makers their shares,
the option makers their contracts, for inventory skew) and keep no copy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class Ledger:
    """Shares and cash (cents) of every agent in a shard, by agent id.

    ``names``, ``shares`` and ``cash`` are parallel lists indexed by the id
    :meth:`register` hands out; the option flow and the option makers register here
    too, so one id names an agent in both ledgers.
    """

    def __init__(self) -> None:
        self.names: list[str] = []
        self.shares: list[int] = []
        self.cash: list[int] = []

    def register(self, name: str) -> int:
        """A new agent's id: its index in registration order."""
        if name in self.names:
            raise ValueError(f"agent {name!r} registered twice")
        self.names.append(name)
        self.shares.append(0)
        self.cash.append(0)
        return len(self.names) - 1

    def transfer(self, buyer: int, seller: int, qty: int, price: int) -> None:
        """Move ``qty`` shares from ``seller`` to ``buyer`` and ``qty * price`` cents
        (``price`` in cents a share) from ``buyer`` to ``seller``."""
        self.shares[buyer] += qty
        self.shares[seller] -= qty
        value = qty * price
        self.cash[buyer] -= value
        self.cash[seller] += value

    def totals(self) -> tuple[int, int]:
        """(sum of shares, sum of cash): both zero when nothing was created or lost."""
        return sum(self.shares), sum(self.cash)


class OptionLedger:
    """Contracts and premium (cents) held by each agent trading one chain.

    Accounts are opened on first use, one int64 array of contracts per agent
    (indexed like the chain), with the premium in cents beside it.
    """

    def __init__(self, n_contracts: int) -> None:
        self.n = n_contracts
        self.positions: dict[int, np.ndarray] = {}
        self.cash: dict[int, int] = {}

    def account(self, agent: int) -> np.ndarray:
        """Agent ``agent``'s contracts per contract (int64, length ``n``; opened at zero
        on first use). The array is the account itself: writing to it moves positions."""
        if agent not in self.positions:
            self.positions[agent] = np.zeros(self.n, dtype=np.int64)
            self.cash[agent] = 0
        return self.positions[agent]

    def held(self, agents: Sequence[int], idx: np.ndarray) -> np.ndarray:
        """Contracts ``idx`` held by each of ``agents``: int64 [agent, len(idx)], zero for
        an agent with no account (none is opened)."""
        out = np.zeros((len(agents), idx.size), dtype=np.int64)
        for row, agent in enumerate(agents):
            position = self.positions.get(agent)
            if position is not None:
                out[row] = position[idx]
        return out

    def transfer(self, buyer: int, seller: int, c: int, qty: int, price_cents: int) -> int:
        """Move ``qty`` contracts of contract ``c`` to ``buyer`` and their premium
        (``qty * price_cents * 100`` cents: 100 shares a contract) to ``seller``.

        Returns the effect bits from the positions before the trade: bit 0 set when the
        buyer opens (was not short), bit 1 when the seller opens (was not long).
        """
        bought, sold = self.account(buyer), self.account(seller)
        effect = (1 if bought[c] >= 0 else 0) | (2 if sold[c] <= 0 else 0)
        bought[c] += qty
        sold[c] -= qty
        value = qty * price_cents * 100
        self.cash[buyer] -= value
        self.cash[seller] += value
        return effect

    def totals(self) -> tuple[int, int]:
        """(sum of |net contracts| over contracts, sum of premium): both zero when conserved."""
        if not self.positions:
            return 0, 0
        net = np.sum(list(self.positions.values()), axis=0)
        return int(np.abs(net).sum()), int(sum(self.cash.values()))

    def open_interest(self) -> np.ndarray:
        """Contracts held long across agents, per contract (int64, length ``n``)."""
        if not self.positions:
            return np.zeros(self.n, dtype=np.int64)
        return np.sum([np.maximum(p, 0) for p in self.positions.values()], axis=0)
