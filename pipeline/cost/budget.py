"""`budget_usd`: a build stops before a stage whose cost bound would exceed what is left.

The bound of a stage is the plan's (every planned request sent, max_tokens answered, minus the
exact requests the response cache already holds); what is left is the budget minus what this
build's finished stages spent by the ledger. A stage reused from an earlier run costs nothing.
"""

from __future__ import annotations

from pipeline.cost.ledger import Row, spent
from pipeline.lm.base import LMError


class BudgetExceeded(LMError):
    """The next stage could cost more than the budget has left; nothing of it was sent."""


class Budget:
    def __init__(self, limit_usd: float | None, stage_bounds: dict[str, float]):
        self.limit = limit_usd
        self.bounds = stage_bounds
        self.spent = 0.0

    def add_spent(self, rows: list[Row]) -> None:
        self.spent = round(self.spent + spent(rows), 6)

    def check(self, stage: str) -> None:
        """Raise before `stage` when its bound exceeds what is left."""
        if self.limit is None:
            return
        bound = self.bounds.get(stage, 0.0)
        left = self.limit - self.spent
        if bound > left + 1e-9:
            raise BudgetExceeded(
                f"stage {stage} could cost up to {bound:.4f} USD, but only {left:.4f} of budget_usd "
                f"{self.limit:.4f} is left ({self.spent:.4f} spent); nothing was sent for it. Raise budget_usd, "
                f"use batch: true (half price) or smaller max_tokens, then run the same build again to resume."
            )
