"""last_good.snapshot/restore: kept files come back byte for byte, new ones go, kept folders match."""

from __future__ import annotations

from pathlib import Path

from mlops.last_good import restore, snapshot


def test_restore_puts_back_rewritten_removed_and_absent_files(tmp_path: Path):
    lock, schema, absent = tmp_path / "dvc.lock", tmp_path / "schema.yaml", tmp_path / "gate.json"
    lock.write_bytes(b"stages: {}\n")
    schema.write_bytes(b"columns: {}\n")
    saved = snapshot([lock, schema, absent])

    lock.write_bytes(b"stages: {train: {}}\n")
    schema.unlink()
    absent.write_text("{}")
    restore(saved)

    assert lock.read_bytes() == b"stages: {}\n"
    assert schema.read_bytes() == b"columns: {}\n"
    assert not absent.exists()


def test_a_kept_directory_comes_back_exactly(tmp_path: Path):
    plots = tmp_path / "reports" / "plots"
    plots.mkdir(parents=True)
    (plots / "roc.json").write_text("[1]")
    (plots / "empty.json").write_bytes(b"")
    saved = snapshot([plots])

    (plots / "roc.json").write_text("[2]")
    (plots / "empty.json").unlink()
    (plots / "new.json").write_text("[]")
    restore(saved)

    assert sorted(p.name for p in plots.iterdir()) == ["empty.json", "roc.json"]
    assert (plots / "roc.json").read_text() == "[1]"
    assert (plots / "empty.json").read_bytes() == b""


def test_a_folder_absent_before_the_run_is_removed(tmp_path: Path):
    timings = tmp_path / "reports" / "timings"
    saved = snapshot([timings])

    timings.mkdir(parents=True)
    (timings / "train.json").write_text("{}")
    restore(saved)

    assert not timings.exists()
