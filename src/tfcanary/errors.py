"""tfcanary's errors for people: one hierarchy, caught once by the CLI.

A :class:`UserError` is a mistake the user can fix; the CLI prints its message
without a traceback and exits 2.  Its kinds say what was wrong:

- :class:`UsageError`: an argument or option (``--env tf2.99``, ``--select``
  matching nothing);
- :class:`InputError`: a file or folder that cannot be read or used (a
  truncated results file, a snapshot of another schema); the message names it.

Anything else that escapes a command is an internal error: the CLI prints the
traceback with a request to report it and exits 3.  Standard library only.
"""


class UserError(Exception):
    """A mistake the user can fix: a bad argument, a missing or unreadable file (exit 2)."""

    exit_code = 2


class UsageError(UserError):
    """An argument or option that cannot be used."""


class InputError(UserError):
    """A file or folder that cannot be read or used; the message names it."""
