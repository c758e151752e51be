"""Raises KeyboardInterrupt at import."""

raise KeyboardInterrupt("pressed by a case module")
