"""Errors meant for the user: their message is the whole story, no traceback needed."""


class SelectorError(Exception):
    """A problem the user can act on (bad input, unknown id, unwritable path, ...).

    The CLI prints the message and exits with status 2; the GUI shows it in a banner.
    """
