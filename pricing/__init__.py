"""Prices in one place: the dated table, live /pricing, estimates, plan cost deltas."""
