"""Target bands for the calibration scorecard, transcribed from ``docs/realism-targets.md``.

Each equity stylized fact computed by :mod:`tapesim.calibration.facts` and each options
fact computed by :mod:`tapesim.calibration.options_facts` has a stable id (e.g.
``"return_kurtosis_1m"``, ``"opt_chain_sparsity"``), a human title and, unless it is
reported only, a :class:`Band` it should fall in for a run of the default profiles. The ids are the
keys the scorecard, notebooks and tests use, so they never change meaning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

EN_DASH = "\u2013"
LE = "\u2264"
GE = "\u2265"


@dataclass(frozen=True)
class Band:
    """An interval a statistic should fall in; ``None`` leaves that side open.

    ``inclusive`` applies to both finite ends: ``Band(2, 30)`` is 2 <= x <= 30,
    ``Band(0, None, inclusive=False)`` is x > 0.
    """

    low: float | None
    high: float | None
    inclusive: bool = True

    def contains(self, x: float | None) -> bool:
        """Whether ``x`` lies in the band; ``None`` and NaN never do."""
        if x is None or math.isnan(x):
            return False
        if self.low is not None and (x < self.low or (not self.inclusive and x == self.low)):
            return False
        return not (
            self.high is not None and (x > self.high or (not self.inclusive and x == self.high))
        )

    @property
    def text(self) -> str:
        """The band as a short human string: ``2-30`` (with an en dash), ``[-0.25, 0.05]``,
        ``> 0``, ``\u2264 0.05``."""
        lo, hi = self.low, self.high
        if lo is not None and hi is not None:
            if not self.inclusive:
                return f"({lo:g}, {hi:g})"
            if lo < 0:
                return f"[{lo:g}, {hi:g}]"
            return f"{lo:g}{EN_DASH}{hi:g}"
        if lo is not None:
            return f"{GE if self.inclusive else '>'} {lo:g}"
        if hi is not None:
            return f"{LE if self.inclusive else '<'} {hi:g}"
        return "any"


#: Human titles of every equity fact, in scorecard order.
EQUITY_TITLES: dict[str, str] = {
    "return_kurtosis_1m": "excess kurtosis, 1-min returns",
    "return_tail_index_1m": "Hill tail index, top 5% |1-min returns|",
    "return_acf1_1m": "ACF lag 1, 1-min returns",
    "return_acf_max_6_20": "max |ACF| lags 6-20, 1-min returns (95% lower bound)",
    "absret_acf1_1m": "ACF lag 1, |1-min returns|",
    "absret_acf30_1m": "ACF lag 30 (mean of lags 25-35), |1-min returns|",
    "aggregational_gaussianity": "largest kurtosis rise, 1/5/15/30-min (95% lower bound)",
    "volume_volatility_corr": "corr(|1-min return|, 1-min volume)",
    "ushape_first_bin": "volume, first 30-min bin / mean bin",
    "ushape_midday": "volume, midday 30-min bins / mean bin",
    "ushape_last_bin": "volume, last 30-min bin / mean bin",
    "ushape_bin_noise": "volume, median |change| from one 30-min bin to the next",
    "spread_median_ticks": "time-weighted median spread (ticks), names under $50",
    "spread_median_bps": "time-weighted median spread (bps), names $50-$500",
    "spread_open5_ratio": "spread, first 5 min / midday",
    "spread_open_decay_min": "minutes after the open until spread <= 1.25x midday",
    "spread_close_ratio": "spread, last 30 min / midday",
    "odd_lot_share": "share of prints < 100 sh",
    "round_lot_share": "share of prints at multiples of 100 sh",
    "size_modes_100_200_500": "size modes 100/200/500: min peak / max neighbour",
    "size_modes_small": "size modes 1/5/10/25/50: min peak / max neighbour",
    "size_tail_exponent": "Hill tail exponent, top 5% print sizes",
    "size_largest": "the day's largest print (sh)",
    "off_exchange_share": "share of prints off-exchange",
    "duration_cv": "CV of trade durations",
    "duration_weibull_shape": "Weibull shape, positive trade durations",
    "duration_same_ms_share": "share of consecutive prints in the same ms",
    "sign_acf1": "ACF lag 1, Lee-Ready trade signs",
    "sign_acf10": "ACF lag 10, Lee-Ready trade signs",
    "quote_trade_ratio": "NBBO price changes per print",
    "quote_change_seconds_share": "share of seconds with an NBBO price change",
    "same_price_prints_share": "share of consecutive prints at the same price",
    "impact_exponent": "metaorder impact exponent vs Q/V",
}

#: Target bands of the equity facts (docs/realism-targets.md, "Equities (stylized
#: facts)"). Facts in :data:`EQUITY_TITLES` without a band here are reported only.
EQUITY_BANDS: dict[str, Band] = {
    "return_kurtosis_1m": Band(2.0, 30.0),
    "return_tail_index_1m": Band(2.0, 5.0),
    "return_acf1_1m": Band(-0.25, 0.05),
    "return_acf_max_6_20": Band(None, 0.05),
    "absret_acf1_1m": Band(0.05, 0.4),
    "absret_acf30_1m": Band(0.0, None, inclusive=False),
    # value = a 95% lower bound on the largest rise of kurtosis from one scale to the
    # next (tapesim.calibration.sampling); "decreasing with scale" means no rise, <= 0.
    "aggregational_gaussianity": Band(None, 0.0),
    "volume_volatility_corr": Band(0.2, 0.6),
    "ushape_first_bin": Band(1.0, 3.0),
    "ushape_midday": Band(0.4, 0.8),
    "ushape_last_bin": Band(1.6, 5.0),
    "ushape_bin_noise": Band(0.2, None),
    "spread_median_ticks": Band(1.0, 3.0),
    "spread_median_bps": Band(1.0, 8.0),
    "spread_open5_ratio": Band(2.5, None),
    "spread_open_decay_min": Band(None, 30.0),
    "spread_close_ratio": Band(None, 1.0),
    "odd_lot_share": Band(0.25, 0.65),
    # value = min over the modes of count(mode) / max(1, largest count at mode +-1..10)
    "size_modes_100_200_500": Band(1.0, None, inclusive=False),
    # the same over 1/5/10/25/50 with neighbours +-1..2 that are not modes themselves
    "size_modes_small": Band(1.0, None, inclusive=False),
    "size_tail_exponent": Band(1.0, 2.5),
    "size_largest": Band(20_000.0, None),
    "off_exchange_share": Band(0.15, 0.45),
    "duration_cv": Band(2.5, 4.5),
    "duration_weibull_shape": Band(0.3, 0.5),
    "duration_same_ms_share": Band(0.2, 0.6),
    "sign_acf1": Band(0.45, 0.8),
    "sign_acf10": Band(0.03, 0.25),
    "quote_trade_ratio": Band(0.05, 2.0),
    "quote_change_seconds_share": Band(0.01, 0.40),
    "same_price_prints_share": Band(0.45, None),
    "impact_exponent": Band(0.4, 0.7),
}

#: Human titles of every options fact, in scorecard order. Facts ending ``_index`` apply
#: to index-like underlyings (SPY, QQQ, IWM, DIA), ``_single`` to single names; the rest
#: to both.
OPTION_TITLES: dict[str, str] = {
    "opt_dte_0_7_share_single": "volume share 0-7 DTE (single name)",
    "opt_dte_0_7_share_index": "volume share 0-7 DTE (index-like)",
    "opt_0dte_share_index": "volume share 0DTE (index-like)",
    "opt_0dte_share_single": "volume share 0DTE (single name)",
    "opt_atm_volume_share": "volume share, strike within +-2.5% of spot",
    "opt_far_volume_share": "volume share, strike beyond +-10% of spot",
    "opt_put_call_ratio_single": "put/call volume ratio (single name)",
    "opt_put_call_ratio_index": "put/call volume ratio (index-like)",
    "opt_small_print_share": f"share of prints {LE} 10 contracts",
    "opt_block_print_share": f"share of prints {GE} 500 contracts",
    "opt_complex_volume_share": "volume share printed COMPLEX/SPREAD",
    "opt_spread_atm_front": "median spread / mid, ATM front (time-weighted)",
    "opt_spread_otm_front": "median spread / mid, OTM 2.5-10% front (time-weighted)",
    "opt_far_otm_zero_bid_share": f"far-OTM front quote time at 0 bid x {LE} 0.05 ask",
    "opt_quote_trade_ratio": "OptionNBBO changes per option print",
    "opt_chain_sparsity": "share of quoted contracts with no print",
    "opt_dte_60_plus_share": "volume share beyond 60 DTE",
    "opt_longest_expiry_days": "longest quoted expiry (days)",
    "opt_contracts_listed": "contracts quoted",
    "opt_contracts_traded": "contracts with a print",
    "opt_venue_max_share": "largest options exchange's share of prints",
    "opt_volume_oi_median": "median volume / start OI, front near-ATM",
    "opt_skew_25d_index": "25-delta put IV - ATM IV, vol pts (index-like)",
    "opt_skew_25d_single": "25-delta put IV - ATM IV, vol pts (single name)",
}

#: Target bands of the options facts (docs/realism-targets.md, "Options"; the chain
#: breadth and far-wing bands are those of large names). Facts in
#: :data:`OPTION_TITLES` without a band here are reported only.
OPTION_BANDS: dict[str, Band] = {
    "opt_dte_0_7_share_single": Band(0.40, 0.80),
    "opt_0dte_share_index": Band(0.30, 0.60),
    "opt_atm_volume_share": Band(0.40, 0.80),
    "opt_far_volume_share": Band(0.05, 0.20),
    "opt_put_call_ratio_single": Band(0.4, 0.9),
    "opt_put_call_ratio_index": Band(0.9, 1.5),
    "opt_small_print_share": Band(0.60, 0.90),
    "opt_complex_volume_share": Band(0.15, 0.40),
    "opt_spread_atm_front": Band(0.01, 0.06),
    "opt_spread_otm_front": Band(0.05, 0.25),
    "opt_quote_trade_ratio": Band(100.0, None),
    "opt_far_otm_zero_bid_share": Band(0.20, None),
    "opt_chain_sparsity": Band(0.45, 0.95),
    "opt_dte_60_plus_share": Band(0.08, 0.20),
    "opt_longest_expiry_days": Band(365.0, None),
    "opt_contracts_traded": Band(500.0, None),
    "opt_venue_max_share": Band(None, 0.35),
    "opt_volume_oi_median": Band(0.1, 0.5),
    "opt_skew_25d_index": Band(3.0, 8.0),
    "opt_skew_25d_single": Band(0.0, 4.0),
}

#: Every fact's title and band, equity and options, by fact id.
TITLES: dict[str, str] = {**EQUITY_TITLES, **OPTION_TITLES}
BANDS: dict[str, Band] = {**EQUITY_BANDS, **OPTION_BANDS}
