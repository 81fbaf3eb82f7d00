"""econalign: measure and align the economic preferences of language-model agents."""

__version__ = "0.1.0"


class EconalignError(Exception):
    """A problem with the user's input: the CLI prints it as one line and exits non-zero."""
