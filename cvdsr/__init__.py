"""``cvdsr``: the operator command line for the Custom Vision DSR app (local host or a deployed app).

Talks to the app's HTTP API only (URL + function key), except ``download``, which reads the export
container in Blob Storage directly with the operator's own access. Never deployed with the app.
"""
