"""Errors that the command line turns into one line and exit code 2."""


class PixelwiseError(Exception):
    """Bad user input: the message names the file or value, what is wrong, and the fix."""
