"""The application layer: what turns a command into work.

The context (workspace, settings, secret, store) loaded once, issue folders, audiences, fetching,
build, send (`send.py`: one request, one listener; scheduling is a mode of it), test sends,
schedules and the weekly run. The CLI and the web apps call into this package; stages never do.
"""
