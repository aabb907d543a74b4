"""The Markdown report a pull request carries: verdict first, then what changed and why."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlops.errors import UserError, cli
from mlops.hashes import file_md5
from mlops.review import baseline, champion
from mlops.timings import read_timings

HTML_REPORTS = ("data_integrity", "train_test_validation", "model_evaluation")


@dataclass(frozen=True)
class Snapshot:
    """The files the report compares, from the workspace or from the baseline commit."""

    params: dict | None
    data_summary: dict | None
    data_hash: str | None
    metrics: dict | None = None
    plots: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Provenance:
    commit: str | None
    dirty: bool
    baseline_ref: str | None
    baseline_commit: str | None
    model_hash: str | None
    timings: dict[str, float]
    run_url: str | None = None  # the CI run whose artifact holds the HTML reports


def render(
    gate: dict,
    current: Snapshot,
    base: Snapshot | None,
    comparison: dict,
    model_validation: dict,
    prov: Provenance,
) -> str:
    """The whole report as Markdown."""
    task = (current.params.get("data") or {}).get("task")
    sections = [
        _verdict(gate),
        _metrics(current.metrics, comparison, gate["metric"]),
        _params(current.params, base and base.params),
        _data(current, base),
        _charts(current.plots, comparison.get("plots") or {}, task),
        _deepchecks([current.data_summary["deepchecks"], *model_validation.values()], current.params, prov),
        _provenance(current, prov),
    ]
    return "\n\n".join(sections) + "\n"


def _verdict(gate: dict) -> str:
    passed = gate["verdict"] == "pass"
    lines = [f"## {'✅' if passed else '❌'} Model gate: {'PASS' if passed else 'FAIL'}", ""]
    for reason in gate["reasons"]:
        lines.append(f"- {'✅' if reason['passed'] else '❌'} {reason['text']}")
        if "remedy" in reason:
            lines.append(f"  - What to do: {reason['remedy']}")
    return "\n".join(lines)


def _metrics(current: dict, comparison: dict, gate_metric: str) -> str:
    lines = ["### Metrics (test set)", "", _basis(comparison), ""]
    base = (comparison.get("metrics") or {}).get("test") or {}
    lines += ["| metric | main | this change | change |", "|---|---:|---:|---:|"]
    for name, value in current["test"].items():
        old = base.get(name)
        label = f"**{name}** (gate)" if name == gate_metric else name
        change = f"{round(value - old, 10) + 0.0:+.4f}" if old is not None and value is not None else "—"
        lines.append(f"| {label} | {_num(old)} | {_num(value)} | {change} |")
    undefined = (current.get("undefined") or {}).get("test") or {}
    if undefined:
        lines += ["", *[f"- `{name}` is undefined (—): {why}." for name, why in undefined.items()]]
    train = current.get("train", {}).get(gate_metric)
    if train is not None:
        lines += [
            "",
            f"Train-set {gate_metric}: {train:.4f} (a large gap to the test set suggests overfitting).",
        ]
    return "\n".join(lines)


def _basis(comparison: dict) -> str:
    """One sentence: what the "main" column is."""
    commit = f" @ `{comparison['commit'][:12]}`" if comparison.get("commit") else ""
    if comparison["basis"] == champion.SAME_TEST_SET:
        return (
            f'The "main" column holds the metrics committed on `{comparison["ref"]}`{commit}: '
            "same data and split, so the same test set."
        )
    if comparison["basis"] == champion.RESCORED:
        return (
            f'The "main" column is main\'s model (`{comparison["model_md5"][:12]}`, from '
            f"`{comparison['ref']}`{commit}) scored on this change's test set: like for like."
        )
    return f"Not compared with main: {comparison['reason']}."


def _params(current: dict, base: dict | None) -> str:
    lines = ["### Params", ""]
    if base is None:
        return "\n".join([*lines, "No baseline params on main to compare with."])
    now, old = _flatten(current), _flatten(base)
    changed = [k for k in sorted(now.keys() | old.keys()) if now.get(k) != old.get(k)]
    if not changed:
        return "\n".join([*lines, "Same params as main."])
    lines += ["| param | main | this change |", "|---|---|---|"]
    lines += [f"| `{k}` | {_cell(old.get(k, '—'))} | {_cell(now.get(k, '—'))} |" for k in changed]
    return "\n".join(lines)


def _data(current: Snapshot, base: Snapshot | None) -> str:
    profile = current.data_summary["profile"]
    old = base.data_summary["profile"] if base and base.data_summary else None
    lines = ["### Data", "", "| | main | this change |", "|---|---:|---:|"]
    lines.append(f"| rows | {_num(old and old['rows'])} | {profile['rows']:,} |")
    lines.append(f"| columns | {_num(old and len(old['columns']))} | {len(profile['columns'])} |")
    lines.append(f"| data hash | `{(base and base.data_hash) or '—'}` | `{current.data_hash or '—'}` |")
    for label, share in profile["target"].items():
        before = old["target"].get(label) if old else None
        lines.append(f"| target `{label}` | {_num(before)} | {_num(share)} |")
    if old:
        added = [c for c in profile["columns"] if c not in old["columns"]]
        removed = [c for c in old["columns"] if c not in profile["columns"]]
        if added or removed:
            lines += [
                "",
                f"Columns added: {', '.join(added) or 'none'}; removed: {', '.join(removed) or 'none'}.",
            ]
        if base.data_hash == current.data_hash:
            lines += ["", "The data is the same as on main."]
    lines += _missing(profile, old)
    warnings = current.data_summary.get("schema_warnings", [])
    lines += ["", *[f"- ⚠️ {w}" for w in warnings]] if warnings else []
    return "\n".join(lines)


def _missing(profile: dict, old: dict | None) -> list[str]:
    """Share of missing values per column, next to main's."""
    shares = profile.get("missing_share") or {}
    before = (old or {}).get("missing_share") or {}
    columns = sorted(shares.keys() | before.keys(), key=lambda c: -shares.get(c, 0))
    if not columns:
        return ["", "No missing values."]
    lines = ["", "| missing values in | main | this change |", "|---|---:|---:|"]
    lines += [
        f"| `{c}` | {_share(before.get(c, 0) if old else None)} | {_share(shares.get(c, 0))} |"
        for c in columns
    ]
    return lines


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _charts(plots: dict, base_plots: dict, task: str | None) -> str:
    lines = ["### Charts"]
    averaged = ", micro-averaged over classes" if task == "multiclass" else ""
    if "roc" in plots:
        lines.append(
            _line_chart(
                f"ROC (test set{averaged})",
                "false positive rate",
                "true positive rate",
                plots["roc"],
                "fpr",
                "tpr",
                base_plots.get("roc"),
            )
        )
        lines.append(
            _line_chart(
                f"Precision-recall (test set{averaged})",
                "recall",
                "precision",
                plots["precision_recall"],
                "recall",
                "precision",
                base_plots.get("precision_recall"),
            )
        )
        if any(base_plots.get(name) for name in ("roc", "precision_recall")):
            lines.append(
                "_ROC and precision-recall: this change first, main's model second, on the same rows._"
            )
        lines.append(
            _line_chart(
                "Calibration: observed rate per predicted-probability bin",
                "bin",
                "observed",
                plots["calibration"],
                "bin",
                "observed",
                None,
            )
        )
    if "predicted_vs_actual" in plots:
        lines.append(
            _line_chart(
                "Mean actual per predicted decile",
                "decile",
                "actual",
                plots["predicted_vs_actual"],
                "bin",
                "actual",
                None,
            )
        )
        lines.append(
            _bar_chart(
                "Residuals",
                [f"{r['residual']:g}" for r in plots["residuals"]],
                [r["count"] for r in plots["residuals"]],
            )
        )
    if "feature_importance" in plots:
        top = plots["feature_importance"][:15]
        lines.append(
            _bar_chart(
                "Permutation feature importance (test set)",
                [r["feature"] for r in top],
                [r["importance"] for r in top],
            )
        )
    if "confusion_matrix" in plots:
        lines.append(_confusion(plots["confusion_matrix"]))
    return "\n\n".join(line for line in lines if line)


def _line_chart(
    title: str, x_title: str, y_title: str, rows: list, x: str, y: str, base_rows: list | None
) -> str:
    if any(r[y] is None for r in rows):  # undefined on this set (see metrics.json "undefined")
        return ""
    labels = ", ".join(f'"{r[x]}"' for r in rows)
    series = [f"    line [{', '.join(str(r[y]) for r in rows)}]"]
    if base_rows and [r[x] for r in base_rows] == [r[x] for r in rows]:
        series.append(f"    line [{', '.join(str(r[y]) for r in base_rows)}]")
    return "\n".join(
        [
            "```mermaid",
            "xychart-beta",
            f'    title "{title}"',
            f'    x-axis "{x_title}" [{labels}]',
            f'    y-axis "{y_title}" 0 --> 1' if y_title != "actual" else f'    y-axis "{y_title}"',
            *series,
            "```",
        ]
    )


def _bar_chart(title: str, labels: list[str], values: list[float]) -> str:
    quoted = ", ".join(f'"{label}"' for label in labels)
    return "\n".join(
        [
            "```mermaid",
            "xychart-beta",
            f'    title "{title}"',
            f"    x-axis [{quoted}]",
            f"    bar [{', '.join(str(v) for v in values)}]",
            "```",
        ]
    )


def _confusion(confusion: dict) -> str:
    labels = confusion["labels"]
    lines = [
        "Confusion matrix (rows: actual, columns: predicted)",
        "",
        "| actual \\ predicted | " + " | ".join(f"`{x}`" for x in labels) + " |",
        "|---|" + "---:|" * len(labels),
    ]
    lines += [
        f"| `{label}` | " + " | ".join(f"{n:,}" for n in row) + " |"
        for label, row in zip(labels, confusion["matrix"], strict=True)
    ]
    return "\n".join(lines)


def _deepchecks(summaries: list[dict], params: dict, prov: Provenance) -> str:
    blocking = set(params.get("validation", {}).get("blocking_checks") or [])
    ran = [p for s in summaries for p in s["problems"] if p["status"] != "NOT RUN"]
    errored = [(s["suite"], e) for s in summaries for e in s.get("errored", [])]
    skipped = [(s["suite"], e) for s in summaries for e in s.get("skipped", [])]
    lines = ["### Deepchecks", ""]
    totals = {k: sum(s["counts"][k] for s in summaries) for k in ("PASS", "WARN", "FAIL", "ERROR")}
    lines.append(
        ", ".join(f"{v} {k.lower()}" for k, v in totals.items())
        + f" conditions; {len(errored)} check(s) errored, {len(skipped)} skipped on purpose; across "
        + ", ".join(s["suite"] for s in summaries)
        + "."
    )
    if ran:
        lines += [
            "",
            "| check | status | blocks the gate | condition | details |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {p['check']} | {p['status']} | {'yes' if p['check'] in blocking else 'no'} "
            f"| {_cell(p['condition'])} | {_cell(p['details'])} |"
            for p in ran
        ]
    if errored:
        lines += ["", "Checks that errored (they did not check anything; a blocking one fails the gate):", ""]
        lines += [f"- ⚠️ {e['check']} ({suite}): {e['details']}" for suite, e in errored]
    if skipped:
        lines += ["", "<details><summary>Checks skipped on purpose</summary>", ""]
        lines += [f"- {e['check']} ({suite}): {e['reason']}" for suite, e in skipped]
        lines += ["", "</details>"]
    where = f"the `model-report` artifact of [this CI run]({prov.run_url})" if prov.run_url else "`reports/`"
    lines += ["", f"Full reports ({', '.join(f'`{name}.html`' for name in HTML_REPORTS)}): in {where}."]
    return "\n".join(lines)


def _provenance(current: Snapshot, prov: Provenance) -> str:
    commit = (
        f"`{prov.commit[:12]}`{' + uncommitted changes' if prov.dirty else ''}" if prov.commit else "none yet"
    )
    base = f"`{prov.baseline_ref}` @ `{prov.baseline_commit[:12]}`" if prov.baseline_commit else "none"
    lines = [
        "### Provenance",
        "",
        f"- commit: {commit}",
        f"- baseline: {base}",
        f"- data hash: `{current.data_hash or '—'}`",
        f"- model hash (md5 of models/model.joblib): `{prov.model_hash or '—'}`",
    ]
    if prov.run_url:
        lines.append(f"- CI run: {prov.run_url}")
    if prov.timings:
        lines.append(
            "- stage durations (last run here): "
            + ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in prov.timings.items())
        )
    return "\n".join(lines)


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(tree, dict):
        return {prefix: tree}
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        flat.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def _num(value: Any) -> str:
    if value is None:
        return "—"
    return f"{value:,}" if isinstance(value, int) else f"{value:.4f}"


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def data_hash(dvc_file: dict | None) -> str | None:
    """The md5 that data.dvc pins."""
    return (dvc_file or {}).get("outs", [{}])[0].get("md5")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{path} is missing: run `make run` (or `dvc repro`) before making the report.")


def _plots(directory: Path) -> dict[str, Any]:
    return {path.stem: json.loads(path.read_text()) for path in sorted(directory.glob("*.json"))}


def ci_run_url(env: Mapping[str, str]) -> str | None:
    """The GitHub Actions run this report is made in, from the variables every job has."""
    parts = [env.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")]
    return "{}/{}/actions/runs/{}".format(*parts) if all(parts) else None


@cli
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", type=Path, default=Path("reports"))
    parser.add_argument("--model", type=Path, default=Path("models/model.joblib"))
    parser.add_argument("--output", type=Path, default=Path("reports/report.md"))
    args = parser.parse_args(argv)
    reports = args.reports
    current = Snapshot(
        metrics=_read_json(reports / "metrics.json"),
        params=yaml.safe_load(Path("params.yaml").read_text()),
        data_summary=_read_json(reports / "data_validation.json"),
        data_hash=data_hash(yaml.safe_load(Path("data.dvc").read_text())),
        plots=_plots(reports / "plots"),
    )
    comparison = _read_json(reports / "baseline.json")
    ref = comparison.get("ref")
    base = None
    if ref is not None:
        base = Snapshot(
            params=baseline.read_yaml(ref, "params.yaml"),
            data_summary=baseline.read_json(ref, "reports/data_validation.json"),
            data_hash=data_hash(baseline.read_yaml(ref, "data.dvc")),
        )
    prov = Provenance(
        commit=baseline.commit(),
        dirty=baseline.is_dirty(),
        baseline_ref=ref,
        baseline_commit=comparison.get("commit"),
        model_hash=file_md5(args.model) if args.model.is_file() else None,
        timings=read_timings(),
        run_url=ci_run_url(os.environ),
    )
    markdown = render(
        _read_json(reports / "gate.json"),
        current,
        base,
        comparison,
        _read_json(reports / "model_validation.json"),
        prov,
    )
    args.output.write_text(markdown)
    print(f"Report: {args.output}")


if __name__ == "__main__":
    main()
