"""The monitoring report: Markdown for a job summary or an issue, HTML with every bin of every feature.

Both are pure functions of the result run_checks returns (verdict.json): verdict first, then the
reasons, then the tables.
"""

from __future__ import annotations

import html
from typing import Any

ICONS = {"alert": "🔴", "warn": "🟡", "info": "ℹ️", "ok": "✅"}  # noqa: RUF001


def markdown(result: dict[str, Any]) -> str:
    """The whole report as Markdown."""
    sections = [
        _heading(result),
        "\n".join(f"- {ICONS[r['level']]} {r['text']}" for r in result["reasons"]),
        _features_md(result["features"]),
        _predictions_md(result["prediction_drift"]),
        _performance_md(result["performance"]),
        _versions_md(result),
        "Thresholds: `monitoring` in params.yaml. Per-bin detail: `report.html` next to this file.",
    ]
    return "\n\n".join(section for section in sections if section) + "\n"


def _heading(result: dict[str, Any]) -> str:
    status = result["status"]
    retrain = "retraining recommended" if result["retrain"] else "no retraining needed"
    files = result["logs"]["files"]
    version = result["model_version"] or "unknown"
    return (
        f"## {ICONS[status]} Production monitoring: {status.upper()} ({retrain})\n\n"
        f"Model `{version}`; logs `{result['logs']['root']}` ({files.get('predictions', 0)} prediction "
        f"file(s), {files.get('feedback', 0)} feedback file(s)); {result['volume']['records']:,} records "
        f"checked{_window(result)}."
    )


def _window(result: dict[str, Any]) -> str:
    since = result.get("since")
    return f", files dated {since} or later" if since else ""


FEATURE_COLUMNS = ("feature", "PSI", "drift", "unseen / out of range", "null rate (training)", "truncated")


def _features_md(rows: list[dict[str, Any]]) -> str:
    if not rows or not any("drift" in row or _skew(row) != "0" for row in rows):
        return ""
    lines = ["### Features", "", f"| {' | '.join(FEATURE_COLUMNS)} |", "|---|---:|---|---:|---:|---:|"]
    lines += [f"| {' | '.join(cells)} |" for cells in _feature_cells(rows)]
    return "\n".join(lines)


def _feature_cells(rows: list[dict[str, Any]]) -> list[list[str]]:
    """One row of FEATURE_COLUMNS per feature, the most drifted first."""
    cells = []
    for row in sorted(rows, key=lambda row: -row.get("drift", {}).get("psi", 0)):
        result, nulls = row.get("drift"), row["nulls"]
        cells.append(
            [
                row["feature"],
                f"{result['psi']:.3f}" if result else "—",
                f"{ICONS[result['level']]} {result['level']}" if result else "—",
                _skew(row),
                f"{nulls['live']:.1%} ({nulls['training']:.1%})",
                f"{row['truncated'] or ''}",
            ]
        )
    return cells


def _skew(row: dict[str, Any]) -> str:
    found = row.get("unseen") or row.get("out_of_range")
    return f"{found['count']:,} ({found['share']:.2%})" if found["count"] else "0"


def _predictions_md(result: dict[str, Any] | None) -> str:
    if not result:
        return ""
    return (
        "### Predictions\n\n| what | PSI | drift | records |\n|---|---:|---|---:|\n"
        f"| {result['what']} | {result['psi']:.3f} | {ICONS[result['level']]} {result['level']} | "
        f"{result['records']:,} |"
    )


def _performance_md(result: dict[str, Any]) -> str:
    if not result["feedback"]:
        return ""
    live = result.get("live")
    test = result["test"]
    return (
        "### Performance on feedback\n\n"
        "| metric | test set | live | labelled predictions | feedback lines | unknown ids |\n"
        "|---|---:|---:|---:|---:|---:|\n"
        f"| {result['metric']} | {_num(test)} | {_num(live)} | {result['labelled']:,} | "
        f"{result['feedback']:,} | {result['unknown']:,} |"
    )


def _versions_md(result: dict[str, Any]) -> str:
    per_version = result["volume"]["per_version"]
    if len(per_version) < 2:
        return ""
    current = result["model_version"]
    lines = ["### Records per model version", "", "| version | records |", "|---|---:|"]
    for version, count in sorted(per_version.items(), key=lambda kv: -kv[1]):
        lines.append(f"| `{version}`{' (current)' if version == current else ''} | {count:,} |")
    return "\n".join(lines)


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; max-width: 70em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: right; }
td:first-child, th:first-child { text-align: left; }
.bar { display: inline-block; height: 0.8em; }
td.bars { text-align: left; }
.training { background: #8aa8d8; } .live { background: #e0a040; }
"""


def html_report(result: dict[str, Any]) -> str:
    """A self-contained HTML page: the Markdown's content plus each feature's bins."""
    body = [
        f"<h1>{ICONS[result['status']]} Production monitoring: {result['status'].upper()}</h1>",
        f"<p>retrain: {str(result['retrain']).lower()}; model {_e(result['model_version'] or 'unknown')}; "
        f"{result['volume']['records']:,} records checked, from {_e(result['volume']['first'] or '—')} "
        f"to {_e(result['volume']['last'] or '—')}.</p>",
        "<ul>"
        + "".join(f"<li>{ICONS[r['level']]} {_e(r['text'])}</li>" for r in result["reasons"])
        + "</ul>",
    ]
    head = "".join(f"<th>{_e(c)}</th>" for c in FEATURE_COLUMNS)
    cells = [
        "<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>"
        for row in _feature_cells(result["features"])
    ]
    body.append(f"<h2>Features</h2><table><tr>{head}</tr>{''.join(cells)}</table>")
    predicted = result["prediction_drift"]
    if predicted:
        body.append(_bins_html(f"Predictions: {predicted['what']}", predicted))
    for row in result["features"]:
        if "drift" in row:
            body.append(_bins_html(f"{row['feature']} ({row['kind']})", row["drift"]))
    thresholds = "".join(
        f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in result["thresholds"].items()
    )
    body.append(f"<h2>Thresholds (params.yaml monitoring)</h2><table>{thresholds}</table>")
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Production monitoring</title>"
        f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>\n"
    )


def _bins_html(title: str, result: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{_e(b['bin'])}</td><td>{b['training']:.1%}</td><td>{b['live']:.1%}</td>"
        f"<td class='bars'>{_bar('training', b['training'])}<br>{_bar('live', b['live'])}</td></tr>"
        for b in result["bins"]
    )
    return (
        f"<h2>{_e(title)}: PSI {result['psi']:.3f} {ICONS[result['level']]}</h2>"
        f"<table><tr><th>bin</th><th>training</th><th>live</th><th></th></tr>{rows}</table>"
    )


def _bar(kind: str, share: float) -> str:
    return f"<span class='bar {kind}' style='width:{share * 20:.2f}em'></span>"


def _e(value: object) -> str:
    return html.escape(str(value))
