"""Option contract identities and their two string forms.

The contract allows ``ROOT-YYYY-MM-DD-STRIKE-C|P`` (strike with trailing zeros
trimmed, e.g. ``SPY-2026-01-16-500-C``, ``SPY-2026-01-16-502.5-P``) or the
21-character OCC form (root padded with spaces to six, ``YYMMDD``, ``C|P``, strike
x 1000 as eight digits, e.g. ``SPY   260116C00500000``). A run uses one form
throughout; both parse back to the same contract.

A shard's spool rows name agents and contracts by index; :class:`ShardListing` is the
table of those names that the market model hands the run writer.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

import pyarrow.compute as pc

Right = Literal["C", "P"]
#: Strikes are below this many thousandths of a dollar ($100,000): the OCC symbol's
#: strike field is eight digits of strike x 1000, five of them dollars.
STRIKE_MILLS_LIMIT = 100_000_000
_DASHED = re.compile(r"^([A-Z][A-Z0-9.]{0,5})-(\d{4}-\d{2}-\d{2})-(\d+(?:\.\d{1,3})?)-([CP])$")
_OCC = re.compile(r"^([A-Z][A-Z0-9. ]{5})(\d{6})([CP])(\d{8})$")


@dataclass(frozen=True, order=True)
class OptionContract:
    """One listed option: root, expiry, strike (in thousandths of a dollar), call or put."""

    root: str
    expiry: dt.date
    strike_mills: int
    right: Right

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Z][A-Z0-9.]{0,5}", self.root):
            raise ValueError(f"option root {self.root!r} must be 1-6 upper-case characters")
        if not 0 < self.strike_mills < STRIKE_MILLS_LIMIT:
            raise ValueError(f"strike {self.strike_mills / 1000} is outside (0, 100000)")
        if self.right not in ("C", "P"):
            raise ValueError(f"right {self.right!r} must be 'C' or 'P'")

    @classmethod
    def of(cls, root: str, expiry: dt.date, strike: float, right: Right) -> OptionContract:
        """The contract with ``strike`` in dollars, rounded to the nearest thousandth of a
        dollar. Raises ``ValueError`` as the constructor does (root not 1-6 upper-case
        characters, strike outside (0, 100000) dollars, right not ``C`` or ``P``).
        """
        return cls(root, expiry, round(strike * 1000), right)

    @property
    def strike(self) -> float:
        """The strike in dollars."""
        return self.strike_mills / 1000

    @property
    def option_type(self) -> str:
        """The contract's ``option_type`` value: ``call`` or ``put``."""
        return "call" if self.right == "C" else "put"

    def dashed(self) -> str:
        """The contract's ``ROOT-YYYY-MM-DD-STRIKE-C|P`` id (CONTRACT.md §1), strike in
        dollars with trailing zeros trimmed: ``SPY-2026-01-16-502.5-P``.
        """
        whole, frac = divmod(self.strike_mills, 1000)
        strike = str(whole) if frac == 0 else f"{whole}.{frac:03d}".rstrip("0")
        return f"{self.root}-{self.expiry.isoformat()}-{strike}-{self.right}"

    def occ(self) -> str:
        """The contract's 21-character OCC id (CONTRACT.md §1): root left-aligned in six
        characters, ``YYMMDD``, ``C|P``, strike x 1000 as eight digits.

        Raises:
            ValueError: the expiry is outside 2000-2099, which the two-digit year of the
                OCC form cannot tell apart (:func:`parse_contract_id` reads ``YY`` as
                ``20YY``).
        """
        if not 2000 <= self.expiry.year <= 2099:
            raise ValueError(f"expiry {self.expiry} is outside 2000-2099, the years the OCC "
                             "form's YYMMDD can name; use contract_ids = \"dashed\"")
        return f"{self.root:<6}{self.expiry:%y%m%d}{self.right}{self.strike_mills:08d}"

    def format(self, style: ContractIdStyle) -> str:
        """The contract's id in the run's ``style`` (config ``options.contract_ids``):
        ``"dashed"`` or ``"occ"``.
        """
        return self.dashed() if style == "dashed" else self.occ()


ContractIdStyle = Literal["dashed", "occ"]


def parse_contract_id(text: str) -> OptionContract:
    """Parse either id form (CONTRACT.md §1) back to its contract.

    Raises ``ValueError`` naming what is wrong: neither form, a date that does not
    exist, an OCC root not left-aligned, or a root, strike or right the contract
    rejects.
    """
    m = _DASHED.match(text)
    if m:
        root, day, strike, right = m.groups()
        whole, _, frac = strike.partition(".")
        mills = int(whole) * 1000 + int((frac + "000")[:3])
        return OptionContract(root, _date(day, text), mills, right)  # type: ignore[arg-type]
    m = _OCC.match(text)
    if m and len(text) == 21:
        root, day, right, strike = m.groups()
        if root != root.rstrip() + " " * (6 - len(root.rstrip())) or not root.strip():
            raise ValueError(f"option id {text!r}: the OCC root must be left-aligned")
        full = f"20{day[:2]}-{day[2:4]}-{day[4:]}"
        return OptionContract(root.rstrip(), _date(full, text), int(strike), right)  # type: ignore[arg-type]
    raise ValueError(
        f"option id {text!r} is neither ROOT-YYYY-MM-DD-STRIKE-C|P nor the 21-character OCC form"
    )


def _date(text: str, whole: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"option id {whole!r}: {text} is not a valid date") from None


def of_roots(symbols: list[str]) -> pc.Expression:
    """An Arrow filter: option contract ids whose root is one of ``symbols`` (non-empty),
    in either id form: the dashed form starts with ``ROOT-``, the OCC form with the
    root padded to six characters (CONTRACT.md §1)."""
    contract = pc.field("option_contract_id")
    expr: pc.Expression | None = None
    for s in symbols:
        term = (pc.starts_with(contract, pattern=f"{s}-")
                | pc.starts_with(contract, pattern=f"{s:<6}"))
        expr = term if expr is None else expr | term
    if expr is None:
        raise ValueError("of_roots needs at least one symbol")
    return expr


@dataclass(frozen=True)
class ShardListing:
    """How a shard's spool rows name its agents and contracts by index: what the run
    writer needs to canonicalise them, fixed once the shard's model is built and its
    agents are added (:meth:`tapesim.market.shard.ShardModel.listing`), before it runs.

    ``agent_names`` are the ledger's names by agent index (registration order); the
    contract tuples are parallel, one entry per listed contract in chain order, empty
    for a stock without options: ``contracts`` the ``option_contract_id`` of each,
    ``calls`` whether it is a call, ``strikes`` its strike (dollars), ``expiry_ms`` its
    expiry (the expiry date's close, epoch ms UTC).
    """

    symbol: str
    agent_names: tuple[str, ...]
    contracts: tuple[str, ...] = ()
    calls: tuple[bool, ...] = ()
    strikes: tuple[float, ...] = ()
    expiry_ms: tuple[int, ...] = ()
