"""refresh: newer data from each kind of source, in a real git+DVC repository with local sources."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml
from dvc.repo import Repo

from mlops.data import example_data
from mlops.errors import UserError
from mlops.params import Params, parse_params
from mlops.retraining.refresh import refresh

ROWS = 50


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty git+DVC repository as the working directory."""
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.chdir(root)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    subprocess.run(["git", "init", "--quiet"], check=True)
    Repo.init().close()
    yield root


def with_command(raw_params: dict, command: str | None) -> Params:
    raw_params["refresh"] = {"command": command}
    return parse_params(raw_params)


def track_example(root: Path, periods: int = 1) -> None:
    example_data.write_csv(example_data.history(ROWS, periods=periods), root / "data" / "churn.csv")
    with Repo() as repo:
        repo.add("data")
    pinned = yaml.safe_load(Path("data.dvc").read_text())
    pinned["meta"] = {"example": {"rows": ROWS, "seed": 7, "periods": periods}}
    Path("data.dvc").write_text(yaml.safe_dump(pinned, sort_keys=False))


def pinned_md5() -> str:
    return yaml.safe_load(Path("data.dvc").read_text())["outs"][0]["md5"]


def test_the_command_in_params_writes_the_data_and_it_is_tracked(project: Path, raw_params: dict):
    track_example(project)
    export = project.parent / "export.csv"
    example_data.write_csv(example_data.generate(ROWS, period=1), export)
    params = with_command(raw_params, f"cp {export} data/churn.csv")
    before = pinned_md5()

    with Repo() as repo:
        first = refresh(params, repo)
    with Repo() as repo:
        second = refresh(params, repo)

    assert first.changed and first.before == before and first.after == pinned_md5() != before
    assert first.summary().startswith("new data from refresh.command: data.dvc now pins ")
    assert (project / "data" / "churn.csv").read_bytes() == export.read_bytes()
    assert not second.changed  # the same export again: nothing new, no pull request
    assert second.summary() == f"no new data from refresh.command: data.dvc still pins {first.after}"


def test_a_failing_command_leaves_the_pinned_data(project: Path, raw_params: dict):
    track_example(project)
    data = (project / "data" / "churn.csv").read_bytes()
    params = with_command(raw_params, "echo half > data/churn.csv; echo 'no such table' >&2; exit 3")

    with Repo() as repo, pytest.raises(UserError) as error:
        refresh(params, repo)

    assert str(error.value).startswith("refresh.command failed with exit code 3 (no such table)")
    assert (project / "data" / "churn.csv").read_bytes() == data


def test_imported_data_is_refreshed_with_dvc_update(project: Path, raw_params: dict):
    source = project.parent / "warehouse"
    source.mkdir()
    example_data.write_csv(example_data.generate(ROWS), source / "churn.csv")
    with Repo() as repo:
        repo.imp_url(str(source), out="data")
    params = with_command(raw_params, None)

    with Repo() as repo:
        unchanged = refresh(params, repo)
    example_data.write_csv(example_data.generate(ROWS, period=1), source / "churn.csv")  # a new export
    with Repo() as repo:
        changed = refresh(params, repo)

    assert not unchanged.changed
    assert changed.changed and changed.after == pinned_md5()
    assert changed.source == f"`dvc update` of {source}"
    assert (project / "data" / "churn.csv").read_bytes() == (source / "churn.csv").read_bytes()


def test_the_example_gets_its_next_period_appended(project: Path, raw_params: dict):
    track_example(project)
    params = with_command(raw_params, None)

    with Repo() as repo:
        result = refresh(params, repo, drift=0.4)

    assert result.changed and result.source == "the bundled example's next period"
    table = pd.read_csv(project / "data" / "churn.csv")
    assert len(table) == 2 * ROWS
    assert table["customer_id"].str[:3].tolist() == ["C00"] * ROWS + ["C01"] * ROWS
    spec = yaml.safe_load(Path("data.dvc").read_text())["meta"]["example"]
    assert spec == {"rows": ROWS, "seed": 7, "periods": 2, "drift": 0.4}
    # A fresh clone regenerates exactly these bytes from data.dvc's meta (preflight).
    regenerated = project.parent / "regenerated.csv"
    example_data.write_csv(example_data.history(**spec), regenerated)
    assert regenerated.read_bytes() == (project / "data" / "churn.csv").read_bytes()


def test_data_with_no_source_is_a_clear_error(project: Path, raw_params: dict):
    (project / "data").mkdir()
    shutil.copy(Path(__file__), project / "data" / "table.csv")
    with Repo() as repo:
        repo.add("data")
        with pytest.raises(UserError, match=r"Nothing to refresh data/churn\.csv from: set refresh\.command"):
            refresh(with_command(raw_params, None), repo)


def test_own_data_under_the_example_s_leftover_meta_is_not_overwritten(project: Path, raw_params: dict):
    """D2: data.dvc committed with the example's ``meta:`` while params.yaml points at the user's table."""
    track_example(project)  # data.dvc pins data/ and carries meta.example
    shutil.rmtree(project / "data")
    (project / "data").mkdir()
    (project / "data" / "survey.csv").write_text("age,outcome\n30,yes\n40,no\n")
    with Repo() as repo:
        repo.add("data")  # `dvc add` keeps the meta block
    assert "example" in yaml.safe_load(Path("data.dvc").read_text())["meta"]
    raw_params["data"]["path"] = "data/survey.csv"
    before = pinned_md5()

    with (
        Repo() as repo,
        pytest.raises(UserError, match=r"Nothing to refresh data/survey\.csv from: set refresh\."),
    ):
        refresh(with_command(raw_params, None), repo)

    assert pinned_md5() == before
    assert sorted(p.name for p in (project / "data").iterdir()) == ["survey.csv"]
    assert (project / "data" / "survey.csv").read_text() == "age,outcome\n30,yes\n40,no\n"


def test_on_a_fresh_clone_the_example_is_written_where_params_say(project: Path, raw_params: dict):
    track_example(project)
    shutil.rmtree(project / "data")  # a clone has data.dvc but no data/ (CI, the Retrain workflow)

    with Repo() as repo:
        result = refresh(with_command(raw_params, None), repo)

    assert result.changed and result.after.endswith(".dir")  # still the data/ directory
    assert len(pd.read_csv(project / "data" / "churn.csv")) == 2 * ROWS


def test_on_a_fresh_clone_the_command_gets_data_s_folder_and_a_failure_leaves_none(
    project: Path, raw_params: dict
):
    track_example(project)
    shutil.rmtree(project / "data")
    export = project.parent / "export.csv"
    example_data.write_csv(example_data.history(ROWS), export)  # the very table data.dvc pins

    with Repo() as repo:
        same = refresh(with_command(raw_params, f"cp {export} data/churn.csv"), repo)
    shutil.rmtree(project / "data")
    with Repo() as repo, pytest.raises(UserError, match=r"refresh\.command failed with exit code 1"):
        refresh(with_command(raw_params, "echo half > data/churn.csv; exit 1"), repo)

    assert not same.changed
    assert not (project / "data").exists()
