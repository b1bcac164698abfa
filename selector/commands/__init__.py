"""Subcommands of the ``selector`` CLI, one module each.

A command module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``, and imports nothing heavy at module level.
"""

from selector.commands import bench, catalog, export, gui, hw, recommend

COMMANDS = [gui, hw, catalog, bench, recommend, export]
