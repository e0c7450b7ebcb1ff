"""Spending fewer model calls without deciding differently: risk tiers, calibrated bypass, budgets,
coalescing and the counters that show where the savings came from (docs/efficiency.md)."""
