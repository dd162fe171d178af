"""What every stage shares: the data model, errors, names, URLs, encodings, files, settings and the secret.

Also the one signing module (`signing.py`) behind every signed token, the VERP return-path tokens,
RFC 3463 status codes, and `printable` for untrusted text shown on a terminal. Nothing here imports
a stage, the store, the application layer or the CLI.
"""
