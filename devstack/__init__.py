"""The project's local stand-ins for Azure and the scripts that run them (``python -m devstack``).

Never deployed: ``.funcignore`` keeps this package out of the function app.
"""
