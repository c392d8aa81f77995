"""The one exception type the CLI turns into a one-line message."""


class BenchError(Exception):
    """A problem with the user's input: the message names the file, row, option or value at fault."""
