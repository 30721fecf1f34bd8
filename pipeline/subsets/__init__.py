"""Subsets as plugins: one module per subset, joined in `registry` (see `base.Subset`)."""
