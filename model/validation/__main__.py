"""``python -m model.validation ...``: an alias of ``chipstack validate ...`` (the same arguments, output
and exit codes)."""

import argparse
import sys

from model.sweep.errors import UsageError
from model.validation.cli import add_arguments, output_folder, run_checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.validation",
                                     description="Docking with Arthur (1989) and Bass (1969); history replay "
                                                 "(the same as 'chipstack validate').")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        out = output_folder(args.out)
        for text in run_checks(args.what, out, args.quick):
            print(text)
    except UsageError as exc:
        print(f"chipstack: error: {exc}", file=sys.stderr)
        return 2
    print(f"written to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
