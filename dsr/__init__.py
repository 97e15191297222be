"""Domain code for Custom Vision data-subject requests.

Nothing in this package imports ``azure.functions``: triggers, orchestrators and activities
(top-level folders) call into it, never the other way round.
"""
