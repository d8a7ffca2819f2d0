class GmiaError(ValueError):
    """Bad input: the message is one sentence naming the bad value and what was expected."""


def check_choice(what: str, value: str, choices) -> None:
    """Raise a GmiaError naming ``value`` unless it is one of ``choices``."""
    if value not in choices:
        raise GmiaError(f"unknown {what} {value!r}; expected one of: {', '.join(choices)}")


def check_cutoff(cutoff: float) -> None:
    """A p-value cutoff in (0, 1); here, beside the other plain checks, so a configuration can
    check it without importing the attacks."""
    if not (0.0 < cutoff < 1.0):
        raise GmiaError(f"cutoff {cutoff} is out of range; expected a p-value threshold in (0, 1)")


def check_cutoffs(cutoffs) -> None:
    if not cutoffs:
        raise GmiaError("no cutoff given; expected at least one p-value threshold in (0, 1)")
    for c in cutoffs:
        check_cutoff(c)


def option(name: str, value: str = "") -> str:
    """An option as both sides spell it, for messages the command line and Python share:
    ``option("algorithm")`` → "algorithm= (--algorithm)", with a value "pvalues='raw' (--pvalues raw)"."""
    keyword = name.replace("-", "_")
    if not value:
        return f"{keyword}= (--{name})"
    return f"{keyword}={value!r} (--{name} {value})"


def invalid_document(exc, what: str, expected: str) -> GmiaError:
    """One sentence from a pydantic ValidationError of a document that came from outside (a
    keys file, a schema in an ONNX file or from a remote service): its first bad field and value."""
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or "document"
    if err.get("type") == "extra_forbidden":
        return GmiaError(f"{what} has unknown field {field!r}; expected {expected}")
    value = err.get("input")
    shown = repr(value)
    shown = shown if len(shown) <= 60 else f"a {type(value).__name__}"
    # A regex is no explanation: the expected text says what the field must look like.
    reason = "" if err.get("type") == "string_pattern_mismatch" else f": {err['msg'].lower()}"
    return GmiaError(f"{what} has {field}={shown}{reason}; expected {expected}")


class ResumableError(GmiaError):
    """Work stopped for a reason outside the input (a query budget spent, a target that stopped
    answering); everything done so far is kept and rerunning the same command resumes from it."""

    exit_code = 3
