"""What responses cost in US dollars, the cached-input discount, and the spending limits.

A response's cost follows from its token counts (`ResponseStats`, as the server reported them in
`usage`) and the model's prices in the catalogue (`agent.catalogue`): uncached input at the input
price, cached input at the cached-input price, output (reasoning included: the API counts it in
`output_tokens`) at the output price. What the cache saved is the difference to the same tokens
with every input token at the full input price. A model without prices has no cost: figures are
None ("cost unknown"), never $0. Costs are computed, not recorded: replaying a session prices its
recorded token counts again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent.catalogue import ModelInfo, PriceTable

if TYPE_CHECKING:
    from agent.stats import ResponseStats, TurnStats

__all__ = [
    "ContextUsage",
    "Cost",
    "CostReport",
    "SpendingLimits",
    "dollars",
    "response_cost",
    "responses_cost",
]

PER_TOKEN = 1_000_000
"""Catalogue prices are per million tokens."""


@dataclass(frozen=True)
class Cost:
    """The token counts of some responses and what they cost (None: a price was unknown)."""

    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    input_usd: float | None = 0.0
    """Uncached input tokens at the input price."""
    cached_input_usd: float | None = 0.0
    """Cached input tokens at the cached-input price."""
    output_usd: float | None = 0.0
    saved: float | None = 0.0
    """What the cached-input discount saved: cached tokens at the input price minus what they cost."""

    @property
    def uncached_tokens(self) -> int:
        return self.input_tokens - self.cached_tokens

    @property
    def known(self) -> bool:
        """Whether every response was priced."""
        return None not in (self.input_usd, self.cached_input_usd, self.output_usd)

    @property
    def charged(self) -> float | None:
        """Dollars charged, the cached-input discount applied (None: cost unknown)."""
        return _plus(_plus(self.input_usd, self.cached_input_usd), self.output_usd)

    @property
    def without_cache(self) -> float | None:
        """What the same tokens would have cost had nothing been cached."""
        return self.charged + self.saved if self.charged is not None and self.saved is not None else None

    @property
    def total_tokens(self) -> int:
        """Input (cached included) plus output tokens: what `--max-turn-tokens` counts."""
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Cost) -> Cost:
        return Cost(
            input_tokens=self.input_tokens + other.input_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
            input_usd=_plus(self.input_usd, other.input_usd),
            cached_input_usd=_plus(self.cached_input_usd, other.cached_input_usd),
            output_usd=_plus(self.output_usd, other.output_usd),
            saved=_plus(self.saved, other.saved),
        )

    def summary(self) -> str:
        """`cost $0.0123 (the cache saved $0.0040)`, or `cost unknown`."""
        if self.charged is None:
            return "cost unknown"
        saved = f" (the cache saved {dollars(self.saved)})" if self.saved else ""
        return f"cost {dollars(self.charged)}{saved}"

    def as_json(self) -> dict[str, float | int | None]:
        """The figures as plain JSON values (dollars None when unknown)."""
        return {
            "cost_usd": _rounded(self.charged),
            "saved_usd": _rounded(self.saved),
            "without_cache_usd": _rounded(self.without_cache),
            "input_usd": _rounded(self.input_usd),
            "cached_input_usd": _rounded(self.cached_input_usd),
            "output_usd": _rounded(self.output_usd),
            "input_tokens": self.input_tokens,
            "cached_tokens": self.cached_tokens,
            "output_tokens": self.output_tokens,
            "reasoning_tokens": self.reasoning_tokens,
        }


def _plus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b


def _rounded(amount: float | None) -> float | None:
    return None if amount is None else round(amount, 8)


def dollars(amount: float | None) -> str:
    """`$1.23`, `$0.0123` (four decimals below a dollar), or `cost unknown` for None."""
    if amount is None:
        return "cost unknown"
    return f"${amount:,.2f}" if abs(amount) >= 1 else f"${amount:.4f}"


def response_cost(stats: ResponseStats, info: ModelInfo) -> Cost:
    """The cost of one response with `info`'s prices (a server that reports more cached than
    input tokens is taken at its input count)."""
    cached = min(max(stats.cached_tokens, 0), max(stats.input_tokens, 0))
    uncached = max(stats.input_tokens, 0) - cached
    output = max(stats.output_tokens, 0)
    tokens = {
        "input_tokens": uncached + cached,
        "cached_tokens": cached,
        "output_tokens": output,
        "reasoning_tokens": max(stats.reasoning_tokens, 0),
    }
    price_in, price_cached, price_out = info.input_per_mtok, info.cached_input_per_mtok, info.output_per_mtok
    if price_in is None or price_cached is None or price_out is None:
        return Cost(**tokens, input_usd=None, cached_input_usd=None, output_usd=None, saved=None)
    return Cost(
        **tokens,
        input_usd=uncached * price_in / PER_TOKEN,
        cached_input_usd=cached * price_cached / PER_TOKEN,
        output_usd=output * price_out / PER_TOKEN,
        saved=cached * (price_in - price_cached) / PER_TOKEN,
    )


def responses_cost(responses: Iterable[ResponseStats], lookup: Callable[[str | None], ModelInfo]) -> Cost:
    """The summed cost of `responses`, each priced for its own model (`lookup(stats.model)`;
    None: a record that did not name it)."""
    total = Cost()
    for stats in responses:
        total = total + response_cost(stats, lookup(stats.model))
    return total


@dataclass(frozen=True)
class CostReport:
    """The breakdown `/cost` prints: each turn, the session, and the prices used."""

    model: ModelInfo
    provenance: PriceTable
    turns: Sequence[tuple[int, Cost]]
    session: Cost

    def lines(self) -> list[str]:
        """The report as lines of plain text."""
        info = self.model
        out = []
        for number, cost in self.turns:
            out.append(
                f"turn {number:>3}  {_part(cost.charged):>12}  input {cost.uncached_tokens:,} "
                f"+ cached {cost.cached_tokens:,}  output {cost.output_tokens:,}"
                + (f"  saved {dollars(cost.saved)}" if cost.saved else "")
            )
        if not self.turns:
            out.append("no finished turn yet")
        total = self.session
        out += [
            "",
            f"session  {total.summary()}",
            f"  uncached input {total.uncached_tokens:,} tok  {_part(total.input_usd)}",
            f"  cached input   {total.cached_tokens:,} tok  {_part(total.cached_input_usd)}",
            f"  output         {total.output_tokens:,} tok  {_part(total.output_usd)}"
            + (f" (reasoning {total.reasoning_tokens:,})" if total.reasoning_tokens else ""),
            f"  without the cache {dollars(total.without_cache)}, saved {dollars(total.saved)}",
            "",
        ]
        if info.priced:
            out.append(
                f"prices of {info.name} per million tokens: input ${info.input_per_mtok:g}, "
                f"cached input ${info.cached_input_per_mtok:g}, output ${info.output_per_mtok:g}"
            )
        else:
            out.append(f"no prices known for {info.name}: cost unknown (add them in the config's models table)")
        out.append(f"prices from {self.provenance.source}, checked {self.provenance.checked}")
        return out


def _part(amount: float | None) -> str:
    return dollars(amount) if amount is not None else "unknown"


@dataclass(frozen=True)
class SpendingLimits:
    """Limits that end a turn between steps once reached (`TurnEnded(reason="limit_exceeded")`).

    Args:
        max_cost: dollars the responses since the limits were set may cost (None: no limit).
        max_turn_tokens: input (cached included) plus output tokens one turn's responses may use.
        price: prices a sequence of responses (each for its own model).
        earlier_turns: how many of the session's turns had ended when the limits were set (their
            cost is not counted).
    """

    max_cost: float | None
    max_turn_tokens: int | None
    price: Callable[[Iterable[ResponseStats]], Cost]
    earlier_turns: int = 0

    def exceeded(self, turns: Sequence[TurnStats], current: Sequence[ResponseStats]) -> str | None:
        """Why the turn must stop now, or None: `turns` are the session's ended turns, `current`
        the responses of the running one."""
        if self.max_turn_tokens is not None:
            used = sum(r.input_tokens + r.output_tokens for r in current)
            if used >= self.max_turn_tokens:
                return (
                    f"Stopped: this turn used {used:,} tokens (input and output), "
                    f"the limit is {self.max_turn_tokens:,} (--max-turn-tokens)."
                )
        if self.max_cost is not None:
            counted = [r for turn in turns[self.earlier_turns :] for r in turn.responses]
            spent = self.price([*counted, *current]).charged
            if spent is not None and spent >= self.max_cost:
                return f"Stopped: spent {dollars(spent)}, the limit is {dollars(self.max_cost)} (--max-cost)."
        return None


NEAR_COMPACTION = 0.9
"""The meter turns amber from this share of the compaction threshold on."""


@dataclass(frozen=True)
class ContextUsage:
    """How full the context is: what the next request carries against the model's window.

    Args:
        used: the latest response's input plus output tokens (0 before the first response).
        window: the model's context window (tokens).
        threshold: where compaction starts (tokens; None: compaction is off).
    """

    used: int
    window: int
    threshold: int | None

    @property
    def share(self) -> float:
        """`used` as a share of the window."""
        return self.used / self.window if self.window > 0 else 0.0

    @property
    def near_threshold(self) -> bool:
        """Whether the context is near (or past) where compaction starts, or near the window."""
        limit = self.threshold if self.threshold else self.window
        return self.used >= NEAR_COMPACTION * limit

    def label(self) -> str:
        """`context 12.3k/400k (3%)`."""
        return f"context {_count(self.used)}/{_count(self.window)} ({self.share:.0%})"


def _count(tokens: int) -> str:
    if tokens >= 1_000_000:
        return f"{tokens / 1_000_000:.2g}M" if tokens % 1_000_000 else f"{tokens // 1_000_000}M"
    if tokens >= 1000:
        return f"{tokens / 1000:.1f}k" if tokens < 100_000 else f"{tokens // 1000}k"
    return str(tokens)
