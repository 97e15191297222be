"""Durable orchestrators: they only sequence work. No I/O, no clock, no randomness (replay-safe)."""
