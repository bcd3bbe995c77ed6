"""Errors a user can act on.

Every module raises exceptions whose message names the file or config key and says what to do;
the ``posesynth`` command prints such an error as one ``error: ...`` line (``cli.main``). This
module holds the project-wide base class for problems with the user's input that have no more
specific home (a run folder already in use, a data file that is a pickle, ...).
"""

from __future__ import annotations


class UserError(ValueError):
    """A problem with the user's input (a file, a folder, a flag, a config value) that the message explains.

    Subclasses ``ValueError`` so that callers catching bad-input errors keep working.
    """


class UntrustedPickleError(UserError):
    """A data file that is a Python pickle, given without ``--trust-pickle`` / ``data.trust_pickle=true``."""


def untrusted_pickle(path: object, what: str, switch: str = "--trust-pickle (data.trust_pickle=true for train)"
                     ) -> UntrustedPickleError:
    """The error for a pickle-based data file read without trust; the message names the file and the switch."""
    return UntrustedPickleError(
        f"{path}: {what} is a Python pickle, and unpickling a file can run any code it contains; posesynth reads "
        f"it only when you trust its source: pass {switch}")


__all__ = ["UserError", "UntrustedPickleError", "untrusted_pickle"]
