"""The application layer: what turns a command into work.

The context (workspace, settings, secret, store) loaded once, issue folders, audiences, build, send,
schedules and the weekly run. The CLI and the web apps call into this package; stages never do.
"""
