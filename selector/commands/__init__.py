"""Subcommands of the ``selector`` CLI, one module each.

A command module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``, and imports nothing heavy at module level.
"""

from selector.commands import bench, catalog, download, export, gui, hw, recommend
from selector.commands import list as list_command

COMMANDS = [gui, hw, catalog, list_command, download, bench, recommend, export]
