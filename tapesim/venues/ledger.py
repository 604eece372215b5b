"""Positions and cash of every agent in a shard, in shares and integer cents.

Every execution moves shares from seller to buyer and cash the other way, so at
any moment both columns sum to zero across agents: the conservation invariant the
tests check.
"""

from __future__ import annotations


class Ledger:
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
        self.shares[buyer] += qty
        self.shares[seller] -= qty
        value = qty * price
        self.cash[buyer] -= value
        self.cash[seller] += value

    def totals(self) -> tuple[int, int]:
        """(sum of shares, sum of cash): both zero when nothing was created or lost."""
        return sum(self.shares), sum(self.cash)
