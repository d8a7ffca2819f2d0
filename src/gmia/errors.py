class GmiaError(ValueError):
    """Bad input: the message is one sentence naming the bad value and what was expected."""


def check_choice(what: str, value: str, choices) -> None:
    """Raise a GmiaError naming ``value`` unless it is one of ``choices``."""
    if value not in choices:
        raise GmiaError(f"unknown {what} {value!r}; expected one of: {', '.join(choices)}")


class ResumableError(GmiaError):
    """Work stopped for a reason outside the input (a query budget spent, a target that stopped
    answering); everything done so far is kept and rerunning the same command resumes from it."""

    exit_code = 3
