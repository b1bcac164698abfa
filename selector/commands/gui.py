"""``selector gui`` (and ``selector`` with no command): the desktop app."""

from __future__ import annotations

import argparse
import sys

NAME = "gui"
HELP = "open the desktop app (the default when no command is given)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile", metavar="FILE_OR_NAME",
        help="start with a saved or reference hardware profile instead of the live machine",
    )


def run(args: argparse.Namespace) -> int:
    argv = [sys.argv[0]]
    return launch(argv, profile=args.profile)


def launch(argv: list[str], profile: str | None = None) -> int:
    try:
        from selector.ui.app import run_app
    except ImportError as err:
        print(
            f"selector: the desktop app needs PySide6, which failed to import ({err}).\n"
            "Install it with: pip install 'PySide6-Essentials>=6.8,!=6.9.1'\n"
            "The headless commands work without it: selector --help",
            file=sys.stderr,
        )
        return 1
    return run_app(argv, profile=profile)
