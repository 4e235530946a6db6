"""The ``chipstack`` command line (INTERFACES §3).

    chipstack run [--set NAME=VALUE ...] [--steps N] [--seed S] [--out DIR]
    chipstack params [NAME]
    chipstack sweep EXPERIMENT [--workers N] [--scheduler ADDRESS] [--resume] [--out DIR]
    chipstack report DIR [--format png,pdf,svg]
    chipstack replicate DIR/manifest.json
    chipstack validate [arthur|bass|replay|quarterly|decisions|forecast|claims|calibrate|all]
                       [--out DIR] [--quick]
    chipstack ui [--host 127.0.0.1] [--port 8765] [--run SWEEP_DIR RUN_ID]
    chipstack discover DIR --reporter R (--below X | --above X) [--policy NAME=VALUE ...]
    chipstack robust DIR [--reporter R] [--cost C] [--target X] [--cap Y] [--rank-by KEY]
    chipstack game EXPERIMENT [--workers N] [--scheduler ADDRESS] [--resume] [--out DIR]
    chipstack calibrate EXPERIMENT [--out DIR] [--resume] [--max-generations N]

Exit codes: 0 success; 1 some runs failed (the rest are saved), or ``chipstack run``'s model raised;
2 bad input (or a file that cannot be written); 130 after Ctrl-C, 143 after SIGTERM (what is done is
kept: ``--resume`` finishes a sweep). Bad input prints one line on stderr starting ``chipstack: error:``
and nothing else (no traceback; every name or value in it escaped), and writes nothing.

This module runs a command: it parses the arguments (``model.cli_parser``), calls the command's
function (``model.cli_commands``, each calling the layer that does the work and printing what it
returns) and turns what goes wrong into the exit codes above.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import signal
import sys

from model.cli_commands import (
    RUN_SUMMARY_FORMATS,
    Terminated,
    cmd_discover,
    cmd_report,
    cmd_robust,
    cmd_run,
    cmd_sweep,
    cmd_validate,
    on_sigterm,
    parse_sets,
    print_out,
    summary_text,
    terminated,
)
from model.cli_errors import (
    StdoutFailed,
    Stream,
    check_start,
    memory_text,
    quiet_libraries,
    stdout_text,
    stdout_to_devnull,
)
from model.cli_parser import DEFAULT_SEED, MAX_SEED, MAX_STEPS, _Parser, build_parser
from model.sweep.errors import UsageError, one_line, os_error_text, shown

#: what other modules and the tests import from here (the commands and the parser live next door)
__all__ = ["DEFAULT_SEED", "MAX_SEED", "MAX_STEPS", "RUN_SUMMARY_FORMATS", "Terminated", "_Parser",
           "build_parser", "cmd_discover", "cmd_report", "cmd_robust", "cmd_run", "cmd_sweep", "cmd_validate",
           "main", "parse_sets", "print_out", "summary_text"]


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        return cmd_run(args)
    if args.command == "params":
        from model.cli_commands import cmd_params
        return cmd_params(args)
    if args.command == "sweep":
        return cmd_sweep(args)
    if args.command == "report":
        return cmd_report(args)
    if args.command == "replicate":
        from model.cli_commands import cmd_replicate
        return cmd_replicate(args)
    if args.command == "validate":
        return cmd_validate(args)
    if args.command == "discover":
        return cmd_discover(args)
    if args.command == "robust":
        return cmd_robust(args)
    if args.command == "game":
        from model.cli_commands import cmd_game
        return cmd_game(args)
    if args.command == "calibrate":
        from model.cli_commands import cmd_calibrate
        return cmd_calibrate(args)
    if args.command == "ui":
        from model.ui.serve import cmd_ui
        _warn_if_not_loopback(args.host, args.port)
        return cmd_ui(args)
    raise UsageError(f"unknown command {args.command!r}")  # pragma: no cover


def _warn_if_not_loopback(host: str, port: int) -> None:
    """A UI bound beyond this machine has no authentication: say so."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        print(f"chipstack: warning: --host {one_line(shown(host))} makes the UI reachable from other "
              f"machines on your networks, without a password: anyone who can reach port {port} can use it "
              f"and run the model on this machine; use --host 127.0.0.1 (the default) unless you mean that",
              file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    if sys.stderr is None:  # started with stderr closed (2>&-): messages go nowhere, nothing crashes
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - for the life of the process
    stdout, stderr = sys.stdout, sys.stderr
    sys.stderr = Stream(stderr, drop_failures=True)
    if stdout is not None:
        sys.stdout = Stream(stdout, drop_failures=False)
    previous = signal.signal(signal.SIGTERM, on_sigterm)
    parser = build_parser()
    command = "command"
    try:
        args = parser.parse_args(argv)
        command = args.command
        check_start(args)
        with quiet_libraries(getattr(args, "debug", False)):
            code = _dispatch(args)
        if sys.stdout is not None:
            sys.stdout.flush()  # a stdout that cannot be written fails here, not at exit
        return code
    except UsageError as exc:
        return _error(str(exc), 2)
    except KeyboardInterrupt:
        was_terminated = terminated() or isinstance(sys.exc_info()[1], Terminated)
        print(f"chipstack: {'terminated' if was_terminated else 'interrupted'}", file=sys.stderr)
        return 143 if was_terminated else 130
    except BrokenPipeError:
        # the reader of our output went away (e.g. `chipstack run | head`): stop quietly
        stdout_to_devnull(stdout)
        return 141
    except StdoutFailed as exc:
        return _error(stdout_text(exc), 2)
    except OSError as exc:  # a read-only or full folder, an unreadable file ... (model.cli_errors)
        return _error(os_error_text(exc), 2)
    except MemoryError:
        return _error(memory_text(command), 1)
    finally:
        signal.signal(signal.SIGTERM, previous)
        sys.stdout, sys.stderr = stdout, stderr


def _error(text: str, code: int) -> int:
    print(f"chipstack: error: {one_line(text)}", file=sys.stderr)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
