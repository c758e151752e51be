"""The one user-facing exception: caught once in the CLI, printed without a traceback, exit 2."""


class UserError(Exception):
    """A mistake the user can fix: a bad argument, a missing or unreadable file."""
