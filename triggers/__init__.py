"""Triggers: parse and validate input, call plain Python, map the result. No business logic here."""
