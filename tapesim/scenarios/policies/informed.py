"""Informed flow: it knows where the stock is going, trades options ahead of the move,
then follows through in the stock."""

from __future__ import annotations

import numpy as np

from tapesim.scenarios.policies.base import Injection, Steps
from tapesim.sim.calendar import NS_PER_S
from tapesim.venues.book import BUY, SELL

CONFIRM_BPS = 3.0  # the stock's move (bps) the flow's way that ends its follow-through
INFORMED_MOVE_BPS = 10.0  # the latent move an informed injection waits to trade ahead of
MAX_WAIT_S = 1800  # it waits at most this long (s) for such a move


class InformedWithFollowThrough(Injection):
    """Looks ``informed_s`` ahead in the latent path: waits for the moment a move of
    ``INFORMED_MOVE_BPS`` begins, trades options its way, then (``stock_follow_shares``
    > 0) trades the stock the same way until the stock confirms."""

    def arrive(self) -> Steps:
        """With ``informed_s`` > 0, wait from the start time until a latent move of
        ``INFORMED_MOVE_BPS`` over ``informed_s`` begins (:meth:`_wait_for_move`); without
        foresight (``informed_s`` 0) act at once, as the plain schedule does."""
        if self.settings.policy.informed_s > 0:
            yield self.desk.ctx.env.timeout(self._wait_for_move())

    def _wait_for_move(self) -> int:
        """Nanoseconds until the first moment (within ``MAX_WAIT_S``, and leaving its
        horizon before the window ends) after which the latent value moves at least
        ``INFORMED_MOVE_BPS`` over the policy's horizon; else the largest move's start."""
        latent = self.desk.ctx.latent
        env = self.desk.ctx.env
        horizon = max(int(self.settings.policy.informed_s * 1e9 // latent.step_ns), 1)
        first = latent.index(env.now)
        room = self.desk.ctx.session.end_ns - int(self.settings.policy.informed_s * NS_PER_S)
        last = min(latent.index(min(env.now + MAX_WAIT_S * NS_PER_S, room)),
                   latent.value.size - 1 - horizon)
        if last <= first:
            return 0
        log_v = np.log(latent.value[first:last + horizon + 1])
        moves = np.abs(log_v[horizon:] - log_v[:-horizon]) * 1e4
        hits = np.flatnonzero(moves >= INFORMED_MOVE_BPS)
        step = int(hits[0]) if hits.size else int(np.argmax(moves))
        return max((first + step) * latent.step_ns - env.now, 0)

    def direction(self, side: int) -> int:
        """The latent path's way over ``informed_s`` (BUY when it does not fall)."""
        p = self.settings.policy
        if p.informed_s <= 0:
            return side
        latent = self.desk.ctx.latent
        now = self.desk.ctx.env.now
        later = latent.index(now + int(p.informed_s * NS_PER_S))
        return BUY if latent.value[later] >= latent.value[latent.index(now)] else SELL

    def follow(self, side: int) -> Steps:
        """Stock child orders a couple of seconds apart (1.5-2.5 s), each a tenth of
        ``stock_follow_shares`` (at least 100 shares) marketable up to five spreads
        through: at least ``stock_follow_shares`` in all, and on (up to four times as
        much) until the stock stands ``CONFIRM_BPS`` the flow's way from where the
        options traded."""
        planned = self.settings.policy.stock_follow_shares
        if not planned:
            return
        desk = self.desk
        venues = desk.ctx.venues
        child = max(100, planned // 10)
        traded = 0
        while traded < planned or (not self._confirmed(side) and traded < 4 * planned):
            yield desk.ctx.env.timeout(int(1.5 * NS_PER_S + self.draws.uniform() * NS_PER_S))
            desk.sync(desk.ctx.env.now)
            if not venues.two_sided():
                continue
            spread = venues.nbo - venues.nbb
            limit = venues.nbo + 5 * spread if side == BUY else max(venues.nbb - 5 * spread, 1)
            with self.acting():
                traded += max(venues.take(self.agent, side, child, limit), 1)

    def _confirmed(self, side: int) -> bool:
        """Whether the stock's mid stands ``CONFIRM_BPS`` the flow's way from the mid when
        its options traded."""
        venues = self.desk.ctx.venues
        if self.anchor_mid is None or not venues.two_sided():
            return False
        move = (venues.mid() - self.anchor_mid) / self.anchor_mid * 1e4
        return move * side >= CONFIRM_BPS
