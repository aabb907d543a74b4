"""User-facing errors: one clear paragraph and a distinct exit code, never a traceback.

Exit codes of ``make run`` (``python -m mlops.run``) and of every stage:
0 the gate passed; 1 the gate failed; 2 bad input, stopped before anything changed (params, data,
its contract, a missing remote); 3 a pipeline stage failed (the last good outputs are restored);
130 interrupted (Ctrl-C, or SIGTERM for ``make run``; restored too).
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

F = TypeVar("F", bound=Callable[..., object])

EXIT_GATE_FAILED = 1
EXIT_USER_ERROR = 2
EXIT_STAGE_FAILED = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C


class UserError(Exception):
    """A problem the user can fix: the message names the problem and the fix."""


class Interrupted(BaseException):
    """SIGTERM, raised like Ctrl-C's KeyboardInterrupt (a BaseException: no ``except Exception`` takes it,
    nor DVC's handler of KeyboardInterrupt, which would turn it into a failed stage)."""


class StageFailed(UserError):
    """A pipeline stage stopped; its own output says why."""

    exit_code = EXIT_STAGE_FAILED


def cli(main: F) -> F:
    """Run ``main``: a UserError becomes its message on stderr and exit code 2 (or its own), and an
    unexpected error one line naming it, with the traceback kept in a file (and printed on CI)."""

    @functools.wraps(main)
    def wrapper(*args: object, **kwargs: object) -> object:
        try:
            return main(*args, **kwargs)
        except UserError as error:
            print(f"error: {error}", file=sys.stderr)
            sys.exit(getattr(error, "exit_code", EXIT_USER_ERROR))
        except (KeyboardInterrupt, Interrupted):
            print(f"error: {_program(main)} interrupted.", file=sys.stderr)
            sys.exit(EXIT_INTERRUPTED)
        except Exception as error:
            program = _program(main)
            path = _keep_traceback(program)
            if os.environ.get("CI"):
                print(path.read_text(), file=sys.stderr)
            summary = str(error).splitlines()[0][:300].rstrip(".") if str(error) else ""
            print(
                f"error: {program} stopped on an unexpected {type(error).__name__}: {summary}. "
                f"This is a bug or an input the pipeline does not handle yet; the traceback is in {path}.",
                file=sys.stderr,
            )
            sys.exit(EXIT_STAGE_FAILED)

    return wrapper  # type: ignore[return-value]


def _program(main: Callable) -> str:
    """The module's dotted name, also when it runs as ``python -m`` (where it is ``__main__``)."""
    spec = main.__globals__.get("__spec__")
    return spec.name if spec is not None else main.__module__


def _keep_traceback(module: str) -> Path:
    """A new file of its own (never another run's, nor a link planted in a shared /tmp)."""
    descriptor, name = tempfile.mkstemp(prefix=f"{module}-", suffix="-traceback.txt")
    with os.fdopen(descriptor, "w") as file:
        file.write(traceback.format_exc())
    return Path(name)
