"""The ``selector`` command: no arguments opens the desktop app, subcommands run headless.

Start-up stays light: this module and the command modules import only the standard
library at the top, so ``selector --version`` and ``--help`` answer without torch or Qt.
Each command imports what it needs inside its ``run``.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn, Sequence

from selector import APP_DESCRIPTION, __version__
from selector.commands import COMMANDS
from selector.core.errors import SelectorError


class _Parser(argparse.ArgumentParser):
    """Argument errors in one line (argparse prints the whole usage first), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="selector",
        description=f"{APP_DESCRIPTION}. With no command, opens the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"selector {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        command = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    if (sys.argv[1:] if argv is None else list(argv))[:1] == ["--probe-child"]:
        return _probe_child()
    if (sys.argv[1:] if argv is None else list(argv))[:1] == ["--calibrate-child"]:  # frozen app's calibration
        from selector.core.estimate.calibration import main as calibrate_main

        return calibrate_main(sys.argv[2:] if argv is None else list(argv)[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "run", None) is None:
        from selector.commands.gui import launch

        return launch([sys.argv[0]])
    try:
        return int(args.run(args) or 0)
    except SelectorError as err:
        print(f"selector: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("selector: interrupted", file=sys.stderr)
        return 130


def _probe_child() -> int:
    """``selector --probe-child``: the probe child process, for a frozen bundle, where
    ``python -m selector.core.probes.child`` does not exist (see ``runner.child_command``).
    Hidden from ``--help``; reads its spec on stdin like the module does."""
    import faulthandler

    from selector.core.probes.child import main as child_main

    if not faulthandler.is_enabled():  # PYTHONFAULTHANDLER is not read by a frozen app
        faulthandler.enable()
    return child_main()
