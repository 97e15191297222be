"""Durable activities: thin wrappers that call domain code (``dsr``) and return small JSON results."""
