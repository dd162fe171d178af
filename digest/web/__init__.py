"""The web side: one-click unsubscribe, the archive of past issues, and the live preview."""
