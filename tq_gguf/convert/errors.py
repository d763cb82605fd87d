"""The one exception type the converter raises for bad input."""

from __future__ import annotations


class ConversionError(Exception):
    """Bad input or an impossible request. The message is one line that names the
    file or tensor at fault; the CLI prints it and exits with status 1."""
