"""errors.cli: what a user sees when a program stops, locally and on CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.errors import EXIT_STAGE_FAILED, EXIT_USER_ERROR, UserError, cli


@cli
def _bad_input() -> None:
    raise UserError("params.yaml: split.test_size must be between 0 and 1; set it to e.g. 0.2.")


@cli
def _bug() -> None:
    raise RuntimeError("injected\nsecond line")


def test_a_user_error_is_its_message_and_exit_code_2(capsys):
    with pytest.raises(SystemExit) as stopped:
        _bad_input()

    assert stopped.value.code == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert err == "error: params.yaml: split.test_size must be between 0 and 1; set it to e.g. 0.2.\n"


def test_an_unexpected_error_is_one_line_locally_with_the_traceback_in_a_file(capsys, monkeypatch):
    monkeypatch.delenv("CI", raising=False)

    with pytest.raises(SystemExit) as stopped:
        _bug()

    err = capsys.readouterr().err
    assert stopped.value.code == EXIT_STAGE_FAILED
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1
    assert "unexpected RuntimeError: injected." in err
    path = err.rsplit("the traceback is in ", 1)[1].rstrip(".\n")
    assert "RuntimeError: injected" in Path(path).read_text()


def test_on_ci_the_traceback_is_printed_before_the_one_line(capsys, monkeypatch):
    monkeypatch.setenv("CI", "true")

    with pytest.raises(SystemExit):
        _bug()

    err = capsys.readouterr().err
    assert err.index("Traceback (most recent call last)") < err.index("error: ")
    assert err.rstrip().splitlines()[-1].startswith("error: ")
