"""The Markdown report a pull request carries: verdict first, then what changed and why."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlops.errors import UserError, cli
from mlops.hashes import file_md5
from mlops.jsonfile import read_json
from mlops.params import Features
from mlops.review import baseline, champion
from mlops.review.gate import FAILING
from mlops.timings import read_timings

HTML_REPORTS = ("data_integrity", "train_test_validation", "model_evaluation")
# A train-test gap of the gate metric past this is called out as a sign of overfitting.
OVERFIT_GAP = 0.05


@dataclass(frozen=True)
class Snapshot:
    """The files the report compares, from the workspace or from the baseline commit."""

    params: dict | None
    data_summary: dict | None
    data_hash: str | None
    metrics: dict | None = None
    plots: dict[str, Any] = field(default_factory=dict)
    schema: dict[str, dict[str, Any]] | None = None  # schema.yaml's columns (this change only)
    features: Features | None = None  # the features the model was trained on (this change only)


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
        _charts(current.plots, comparison, task, (current.metrics.get("undefined") or {}).get("plots") or {}),
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
    # Rows main trained on left out: both models on the rows compared, and this change's whole test set.
    subset = (comparison.get("challenger_metrics") or {}).get("test")
    if subset is None:
        lines += ["| metric | main | this change | change |", "|---|---:|---:|---:|"]
    else:
        lines += [
            "| metric | main | this change | change | this change, whole test set |",
            "|---|---:|---:|---:|---:|",
        ]
    for name, whole in current["test"].items():
        old, value = base.get(name), whole if subset is None else subset.get(name)
        label = f"**{name}** (gate)" if name == gate_metric else name
        change = f"{round(value - old, 10) + 0.0:+.4f}" if old is not None and value is not None else "—"
        extra = "" if subset is None else f" {_num(whole)} |"
        lines.append(f"| {label} | {_num(old)} | {_num(value)} | {change} |{extra}")
    undefined = (current.get("undefined") or {}).get("test") or {}
    if undefined:
        lines += ["", *[f"- `{name}` is undefined (—): {why}." for name, why in undefined.items()]]
    train, test = current.get("train", {}).get(gate_metric), current["test"].get(gate_metric)
    if train is not None:
        gap = "" if test is None else f", {train - test:+.4f} against the test set"
        hint = (
            " (a gap this large suggests overfitting)"
            if test is not None and train - test > OVERFIT_GAP
            else ""
        )
        lines += ["", f"Train-set {gate_metric}: {train:.4f}{gap}{hint}."]
    return "\n".join(lines)


def _basis(comparison: dict) -> str:
    """One sentence: what the "main" column is."""
    commit = f" @ `{comparison['commit'][:12]}`" if comparison.get("commit") else ""
    if comparison["basis"] == champion.SAME_TEST_SET:
        return (
            f'The "main" column holds the metrics committed on `{comparison["ref"]}`{commit}: '
            "same data and split, so the same test set."
        )
    if comparison["basis"] == champion.RESCORED and comparison.get("excluded"):
        return (
            f'The "main" and "this change" columns are main\'s model (`{comparison["model_md5"][:12]}`, '
            f"from `{comparison['ref']}`{commit}) and this change's, both on the {comparison['rows']:,} "
            f"rows of this change's test set main never trained on ({comparison['excluded']:,} rows "
            "main trained on are left out): like for like."
        )
    if comparison["basis"] == champion.RESCORED:
        return (
            f'The "main" column is main\'s model (`{comparison["model_md5"][:12]}`, from '
            f"`{comparison['ref']}`{commit}) scored on this change's test set, none of whose rows it "
            "trained on: like for like."
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
    lines += [f"| `{k}` | {_param(old, k)} | {_param(now, k)} |" for k in changed]
    return "\n".join(lines)


def _param(flat: dict[str, Any], key: str) -> str:
    """A value as params.yaml writes it (null, [age, visits]); "—" for a key this side lacks."""
    if key not in flat:
        return "—"
    text = yaml.safe_dump(flat[key], default_flow_style=True, allow_unicode=True, width=float("inf"))
    return _cell(text.removesuffix("...\n").strip())


def _data(current: Snapshot, base: Snapshot | None) -> str:
    profile = current.data_summary["profile"]
    old = base.data_summary["profile"] if base and base.data_summary else None
    other_target = _other_target(current.params, base.params if base else None) if old else None
    lines = ["### Data", "", "| | main | this change |", "|---|---:|---:|"]
    lines.append(f"| rows | {_num(old and old['rows'])} | {profile['rows']:,} |")
    lines.append(f"| columns | {_num(old and len(old['columns']))} | {len(profile['columns'])} |")
    lines.append(f"| data hash | `{(base and base.data_hash) or '—'}` | `{current.data_hash or '—'}` |")
    before = old["target"] if old and not other_target else {}
    for label in [*profile["target"], *(k for k in before if k not in profile["target"])]:
        lines.append(
            f"| target `{label}` | {_num(before.get(label))} | {_num(profile['target'].get(label))} |"
        )
    if other_target:
        lines += ["", f"Target not compared with main: {other_target}."]
    if old:
        added = [c for c in profile["columns"] if c not in old["columns"]]
        removed = [c for c in old["columns"] if c not in profile["columns"]]
        if added or removed:
            lines += [
                "",
                f"Columns added: {_names(added)}; removed: {_names(removed)}.",
            ]
        if base.data_hash == current.data_hash:
            lines += ["", "The data is the same as on main."]
    lines += _features(current)
    lines += _missing(profile, old)
    warnings = current.data_summary.get("schema_warnings", [])
    lines += ["", *[f"- ⚠️ {w}" for w in warnings]] if warnings else []
    return "\n".join(lines)


def _other_target(params: dict, base_params: dict | None) -> str | None:
    """Why main's target figures do not compare with this change's, or None when they do."""
    now = params.get("data") or {}
    old = (base_params or {}).get("data") or {}
    if not old:
        return "main's target is unknown (main has no params.yaml)"
    if (old.get("target"), old.get("task")) == (now.get("target"), now.get("task")):
        return None
    return (
        f"main's target is `{old.get('target')}` ({old.get('task')}) and this change's "
        f"`{now.get('target')}` ({now.get('task')})"
    )


def _features(current: Snapshot) -> list[str]:
    """One line: the features the model used, and the data's columns it did not use, with why."""
    if current.features is None:
        return []
    data = current.params.get("data") or {}
    used = current.features
    lines = [
        "",
        f"Features used ({len(used.all)}): numeric {_names(used.numeric)}; "
        f"categorical {_names(used.categorical)}.",
    ]
    roles = {
        data.get("id_column"): "id column",
        data.get("datetime_column"): "datetime column, for the split",
    }
    unused: dict[str, list[str]] = {}
    for column in current.data_summary["profile"]["columns"]:
        if column in used.all or column == data.get("target"):
            continue
        unused.setdefault(_why_unused(column, roles, current.schema or {}, data), []).append(column)
    if unused:
        lines[-1] += " Not used: " + "; ".join(f"{_names(c)} ({why})" for why, c in unused.items()) + "."
    return lines


def _why_unused(column: str, roles: dict, schema: dict, data: dict) -> str:
    if column in roles:
        return roles[column]
    if isinstance(data.get("features"), dict):
        return "not in data.features"
    kind = (schema.get(column) or {}).get("kind")
    return f"inferred as {kind}" if kind else "not in schema.yaml"


def _names(names: tuple[str, ...] | list[str], limit: int = 25) -> str:
    """Quoted names, the first ``limit`` of them."""
    if not names:
        return "none"
    shown = ", ".join(f"`{_cell(name)}`" for name in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _missing(profile: dict, old: dict | None) -> list[str]:
    """Share of missing values per column of this table, next to main's ("—": main lacks it)."""
    shares = profile.get("missing_share") or {}
    before = (old or {}).get("missing_share") or {}
    columns = [c for c in profile["columns"] if c in shares or c in before]
    columns.sort(key=lambda c: (-shares.get(c, 0), -before.get(c, 0)))
    if not shares and not columns:
        return ["", "No missing values."]
    lines = ["", *(["No missing values; main had some:", ""] if not shares else [])]
    lines += ["| missing values in | main | this change |", "|---|---:|---:|"]
    has = set(old["columns"]) if old else set()
    lines += [
        f"| `{_cell(c)}` | {_share(before.get(c, 0) if c in has else None)} | {_share(shares.get(c, 0))} |"
        for c in columns
    ]
    return lines


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


CURVE_NAMES = {"roc": "ROC", "precision_recall": "precision-recall"}


def _charts(plots: dict, comparison: dict, task: str | None, undefined: dict[str, str]) -> str:
    """Mermaid charts of the plots evaluate wrote; ``undefined``: why a curve is empty on this set."""
    lines = ["### Charts"]
    averaged = ", micro-averaged over classes" if task == "multiclass" else ""
    base_plots = comparison.get("plots") or {}
    # Rows main trained on left out: this change's curves on the rows main's are drawn on.
    curves = {**plots, **{k: v for k, v in (comparison.get("challenger_plots") or {}).items() if v}}
    subset = f"{comparison.get('rows') or 0:,} test rows main never trained on"
    rows = f"the {subset}" if comparison.get("challenger_plots") else "test set"
    if "roc" in plots:
        lines.append(
            _line_chart(
                f"ROC ({rows}{averaged})",
                "false positive rate",
                "true positive rate",
                curves["roc"],
                "fpr",
                "tpr",
                base_plots.get("roc"),
            )
        )
        lines.append(
            _line_chart(
                f"Precision-recall ({rows}{averaged})",
                "recall",
                "precision",
                curves["precision_recall"],
                "recall",
                "precision",
                base_plots.get("precision_recall"),
            )
        )
        if any(base_plots.get(name) and curves.get(name) for name in CURVE_NAMES):
            on = subset if comparison.get("challenger_plots") else "rows"
            lines.append(
                f"_ROC and precision-recall: this change first, main's model second, on the same {on}._"
            )
        lines.append(_undefined_curves([name for name in CURVE_NAMES if not curves.get(name)], undefined))
        lines.append(
            _line_chart(
                "Calibration of the top label: how often the most likely class is right, per confidence bin"
                if task == "multiclass"
                else "Calibration: observed rate per predicted-probability bin",
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


def _undefined_curves(names: list[str], undefined: dict[str, str]) -> str:
    """One sentence for the curves this test set does not define, with evaluate's reason."""
    if not names:
        return ""
    why = undefined.get(names[0], "")
    if len(names) == 2:
        return f"_No ROC or precision-recall chart: both are undefined on this test set: {why}._"
    return f"_No {CURVE_NAMES[names[0]]} chart: it is undefined on this test set: {why}._"


def _line_chart(
    title: str, x_title: str, y_title: str, rows: list, x: str, y: str, base_rows: list | None
) -> str:
    if not rows or any(r[y] is None for r in rows):  # undefined on this set (metrics.json "undefined")
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
        + ". Only failures of the checks in `validation.blocking_checks` block the gate; the others are "
        "warnings to read."
    )
    if ran:
        lines += [
            "",
            "| check | status | blocks the gate | condition | details |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {p['check']}{_on(p.get('dataset'))} | {p['status']} "
            f"| {'yes' if p['check'] in blocking and p['status'] in FAILING else 'no'} "
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


def _on(dataset: str | None) -> str:
    return f" ({dataset} set)" if dataset else ""


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
        return read_json(path)
    except FileNotFoundError:
        raise UserError(f"{path} is missing: run `make run` (or `dvc repro`) before making the report.")


def _plots(directory: Path) -> dict[str, Any]:
    return {path.stem: read_json(path) for path in sorted(directory.glob("*.json"))}


def _schema_and_features(path: Path) -> tuple[dict | None, Features | None]:
    """schema.yaml's columns and the features train resolves from it and params.yaml."""
    if not path.is_file():
        return None, None
    from mlops.data.schema import load_schema, resolve_features  # imports pandas: only when needed
    from mlops.params import load_params

    schema = load_schema(path)
    return schema, resolve_features(schema, load_params().data)


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
    parser.add_argument("--schema", type=Path, default=Path("schema.yaml"))
    args = parser.parse_args(argv)
    reports = args.reports
    schema, features = _schema_and_features(args.schema)
    current = Snapshot(
        metrics=_read_json(reports / "metrics.json"),
        params=yaml.safe_load(Path("params.yaml").read_text(encoding="utf-8")),
        data_summary=_read_json(reports / "data_validation.json"),
        data_hash=data_hash(yaml.safe_load(Path("data.dvc").read_text(encoding="utf-8"))),
        plots=_plots(reports / "plots"),
        schema=schema,
        features=features,
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
    args.output.write_text(markdown, encoding="utf-8")
    print(f"Report: {args.output}")


if __name__ == "__main__":
    main()
