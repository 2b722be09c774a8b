"""Thin adapters over the provider SDKs, one per module; they never retry."""
