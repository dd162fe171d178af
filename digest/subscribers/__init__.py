"""Subscriber lists: read, check, deduplicate, filter into segments."""

from digest.subscribers.reader import RowProblem, check_address, detect_format, read_list

__all__ = ["RowProblem", "check_address", "detect_format", "read_list"]
