"""What every stage shares: the data model, errors, names, URLs, encodings, files, settings and the secret.

Nothing here imports a stage, the store, the application layer or the CLI.
"""
