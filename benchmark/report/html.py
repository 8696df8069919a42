"""The leaderboard as one static HTML file: sortable, filterable boards, the answers, the plots and the formulas.

The boards are rendered from the results table (`benchmark.report.table`), so the page and the parquet/CSV can
never disagree; the answers above them (which checkpoint to reuse, the cards, what reuse buys, the tiers, the
signals' agreement, task similarity) are the markdown's own sections, rendered by `markdown_html`, so the page
holds everything the markdown holds. The file is self-contained: CSS and JavaScript are inline and the PNG plots
are embedded as base64 data URIs (each links to its PNG beside the page, full size), so it opens from disk, an
e-mail attachment or a Hub repository without fetching anything. Per suite and modality there is one board of
pretrained (model, task, protocol) rows, mean over seeds, with the scratch twin beside it, as in the markdown.
Clicking a column header sorts by it (again to reverse); the text box and the model menu filter every board at
once. Output depends only on its inputs, byte for byte.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from benchmark.estimators import reusability
from benchmark.estimators.transferability import DISPLAY, NAMES
from benchmark.report import markdown_html
from benchmark.report.table import CSV_NAME, PARQUET_NAME, Row, Summary, read_results_table, summarise
from benchmark.utils.atomic import atomic_write_text

PAGE_NAME = "index.html"
TITLE = "Transfer benchmark leaderboard"


@dataclass(frozen=True)
class BoardColumn:
    """A column of a board table: header, tooltip, the raw value it sorts by and the text it shows."""

    header: str
    tooltip: str
    value: Callable[[Summary], float | str | None]
    text: Callable[[Summary], str]


def _fixed(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _signed(value: float | None) -> str:
    return "—" if value is None else f"{value:+.4f}"


def _count(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value / 1e6:.2f}M" if value >= 1e5 else f"{int(value):,}"


def _speed(value: float | None) -> str:
    if value is None:
        return "—"
    return "∞" if math.isinf(value) else f"{value:.2f}×"


def _choices(values: tuple[float, ...]) -> str:
    return " / ".join(f"{v:g}" for v in values) if values else "—"


def _estimator(name: str) -> BoardColumn:
    return BoardColumn(
        DISPLAY[name],
        f"{name} of the linear-probe cells' frozen features, mean over seeds (no training)",
        lambda s: s.estimators.get(name),
        lambda s: _fixed(s.estimators.get(name), 4),
    )


COLUMNS: tuple[BoardColumn, ...] = (
    BoardColumn("Task", "task id", lambda s: s.task, lambda s: s.task),
    BoardColumn("Model", "model id in the suite", lambda s: s.model, lambda s: s.model),
    BoardColumn("Protocol", "finetune or linear_probe", lambda s: s.protocol, lambda s: s.protocol),
    BoardColumn(
        "Score",
        "main metric on test, mean ± std over seeds",
        lambda s: s.mean,
        lambda s: "—" if s.mean is None else f"{s.mean:.4f} ± {s.std:.4f}",
    ),
    BoardColumn(
        "Scratch", "same architecture from random init", lambda s: s.scratch_mean, lambda s: _fixed(s.scratch_mean, 4)
    ),
    BoardColumn("Gain", "Score − Scratch", lambda s: s.gain, lambda s: _signed(s.gain)),
    BoardColumn("Chance", "majority-class predictor's score", lambda s: s.chance, lambda s: _fixed(s.chance, 4)),
    BoardColumn(
        "Val", "main metric on validation", lambda s: s.validation_mean, lambda s: _fixed(s.validation_mean, 4)
    ),
    BoardColumn(
        "LR",
        "chosen learning rate(s)",
        lambda s: min(s.learning_rates, default=None),
        lambda s: _choices(s.learning_rates),
    ),
    BoardColumn(
        "WD",
        "chosen weight decay(s)",
        lambda s: min(s.weight_decays, default=None),
        lambda s: _choices(s.weight_decays),
    ),
    BoardColumn(
        "Converged",
        "seeds whose validation curve had flattened / seeds finished",
        lambda s: s.converged / s.seeds_ok if s.seeds_ok and s.converged is not None else None,
        lambda s: "—" if s.converged is None else f"{s.converged}/{s.seeds_ok}",
    ),
    BoardColumn(
        "Train s", "training seconds, mean over seeds", lambda s: s.train_wall_s, lambda s: _fixed(s.train_wall_s, 1)
    ),
    BoardColumn(
        "Speed-up",
        "scratch twin's time to its validation quality / this model's time to the same (0: never reached)",
        lambda s: s.speed_up,
        lambda s: _speed(s.speed_up),
    ),
    BoardColumn(
        "Params", "parameters of the whole network", lambda s: s.params_total, lambda s: _count(s.params_total)
    ),
    BoardColumn(
        "GFLOPs/ex",
        "forward GFLOPs per example",
        lambda s: s.flops_per_example,
        lambda s: _fixed(None if s.flops_per_example is None else s.flops_per_example / 1e9, 3),
    ),
    *(_estimator(name) for name in NAMES),
    BoardColumn("Seeds", "seeds finished / cells run", lambda s: s.seeds_ok, lambda s: f"{s.seeds_ok}/{s.cells}"),
)

DEFINITIONS = (
    ("Score", "the task's main metric on its test split after training, mean ± std over the seeds that finished."),
    (
        "Scratch",
        "the same architecture from random initialisation, tuned and trained with the same budget unless the notes "
        "say its twins trained longer.",
    ),
    ("Gain", "Score − Scratch: what reuse bought on this task."),
    ("Chance", "the main metric of always predicting the training set's majority class."),
    ("Val", "the chosen configuration's main metric on the validation split (every choice is made there)."),
    ("LR, WD", "learning rate and weight decay the search chose on validation (several if seeds differ)."),
    ("Converged", "seeds whose validation curve had flattened over the last quarter of the budget."),
    ("Train s", "training wall-clock seconds, evaluation excluded."),
    (
        "Speed-up",
        "the time the scratch twin needed to reach the validation quality all its seeds reached, divided by the "
        "time this model needed to reach the same quality (0 when a seed never did).",
    ),
    ("Params, GFLOPs/ex", "parameters and forward FLOPs per example at the task's input size (1 MAC = 2 FLOPs)."),
    ("LogME … NCE", "transferability estimators on frozen features, no training (linear-probe rows)."),
)

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;padding:0 1.5rem 3rem;
  max-width:1800px;color:#1d232b}
h1{margin:1.2rem 0 .3rem}h3{margin:1.4rem 0 .3rem}
h2{margin-top:2.2rem;border-bottom:2px solid #d8dee6;padding-bottom:.2rem}
.controls{position:sticky;top:0;background:#fff;padding:.6rem 0;border-bottom:1px solid #d8dee6;z-index:2;
  display:flex;gap:1rem;align-items:center;flex-wrap:wrap}
.controls input{width:22rem;padding:.3rem .5rem}.controls select{padding:.3rem}
.wrap{overflow-x:auto}
table{border-collapse:collapse;font-variant-numeric:tabular-nums;margin:.3rem 0 1rem}
th,td{padding:.25rem .55rem;border-bottom:1px solid #e4e8ee;text-align:right;white-space:nowrap}
th:nth-child(-n+3),td:nth-child(-n+3){text-align:left}
thead th{background:#f1f4f8}table.board thead th{cursor:pointer;user-select:none}
thead th[aria-sort=ascending]::after{content:" ▲"}thead th[aria-sort=descending]::after{content:" ▼"}
tbody tr:nth-child(even){background:#fafbfd}tbody tr:hover{background:#eef4ff}
td.missing{color:#9aa3ad}.count{color:#5b6570;margin:0}
figure{display:inline-block;margin:.5rem 1rem .5rem 0;vertical-align:top}
figure img{max-width:560px;border:1px solid #e4e8ee}
figcaption{font-size:12px;color:#5b6570}pre{background:#f6f8fa;padding:.8rem;overflow-x:auto}
dt{font-weight:600}dd{margin:0 0 .4rem 1.2rem}
.scroll{overflow-x:auto}table.analysis td,table.analysis th{white-space:normal;text-align:left;max-width:60rem}
section.answers h4{margin:1rem 0 .2rem}
"""

SCRIPT = """
(function () {
  "use strict";
  function valueOf(row, index) {
    var cell = row.cells[index];
    var raw = cell.getAttribute("data-value");
    return raw === null ? cell.textContent.trim() : raw;
  }
  function isNumber(text) { return text !== "" && !isNaN(Number(text)); }
  function compare(a, b, direction) {
    if (a === "" || b === "") { return a === b ? 0 : (a === "" ? 1 : -1); }  // blanks always last
    var order = isNumber(a) && isNumber(b) ? Number(a) - Number(b) : a.localeCompare(b);
    return direction * order;
  }
  function sortBy(header) {
    var table = header.closest("table");
    var index = Array.prototype.indexOf.call(header.parentNode.children, header);
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (x, y) { return compare(valueOf(x, index), valueOf(y, index), ascending ? 1 : -1); });
    rows.forEach(function (row) { body.appendChild(row); });
    Array.prototype.forEach.call(header.parentNode.children, function (other) { other.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }
  function applyFilters() {
    var terms = document.getElementById("filter").value.toLowerCase().split(/\\s+/).filter(Boolean);
    var model = document.getElementById("model-filter").value;
    document.querySelectorAll("table.board").forEach(function (table) {
      var shown = 0;
      Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
        var text = row.textContent.toLowerCase();
        var keep = (!model || row.getAttribute("data-model") === model) &&
          terms.every(function (term) { return text.indexOf(term) !== -1; });
        row.hidden = !keep;
        if (keep) { shown += 1; }
      });
      table.closest("section").querySelector(".shown").textContent = shown;
    });
  }
  document.querySelectorAll("table.board thead th").forEach(function (header) {
    header.addEventListener("click", function () { sortBy(header); });
  });
  document.getElementById("filter").addEventListener("input", applyFilters);
  document.getElementById("model-filter").addEventListener("change", applyFilters);
})();
"""


def write_html(
    table: Path | pa.Table | Iterable[Row],
    out_dir: Path,
    figures: dict[str, list[str]] | None = None,
    answers: dict[str, list[str]] | None = None,
) -> Path:
    """Write `<out_dir>/index.html` from the results table (a parquet path, an arrow table or its rows), embedding
    the PNGs named per suite in `figures` (paths relative to `out_dir`, as the leaderboard builder writes them) and
    the markdown sections per suite in `answers` (the reuse ranking, cards, tiers, agreement, similarity)."""
    out_dir = Path(out_dir)
    embedded = {
        suite: [(name, _data_uri(out_dir / name)) for name in names] for suite, names in (figures or {}).items()
    }
    return atomic_write_text(out_dir / PAGE_NAME, render_html(_rows(table), embedded, answers))


def _rows(table: Path | pa.Table | Iterable[Row]) -> list[Row]:
    if isinstance(table, str | Path):
        return read_results_table(Path(table))
    if isinstance(table, pa.Table):
        return table.to_pylist()
    return list(table)


def _data_uri(path: Path) -> str | None:
    """The PNG as a data URI, or None if it is missing (the page then names it instead of breaking)."""
    if not path.is_file():
        return None
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def render_html(
    rows: list[Row],
    figures: dict[str, list[tuple[str, str | None]]] | None = None,
    answers: dict[str, list[str]] | None = None,
) -> str:
    """The whole page; `figures[suite]` lists (name, data URI or None) pairs to show under that suite, and
    `answers[suite]` the markdown sections to render above its results tables."""
    summaries = summarise(rows)
    suites = sorted({row["suite"] for row in rows})
    models = sorted({s.model for s in summaries if s.init == "pretrained"})
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{TITLE}</title><style>{CSS}</style></head><body>",
        f"<h1>{TITLE}</h1>",
        _overview(rows, suites),
        _controls(models),
    ]
    for suite in suites:
        mine = [s for s in summaries if s.suite == suite]
        parts += _suite(suite, mine, rows, (figures or {}).get(suite, []), (answers or {}).get(suite, []))
    parts += [_reading_guide(), f"<script>{SCRIPT}</script>", "</body></html>"]
    return "\n".join(parts) + "\n"


def _overview(rows: list[Row], suites: list[str]) -> str:
    if not rows:
        return "<p>No result files yet: run <code>transfer-bench run --suite demo</code> first.</p>"
    lines = [
        "<p>Every number below comes from the results table "
        f'(<a href="{PARQUET_NAME}">{PARQUET_NAME}</a>, <a href="{CSV_NAME}">{CSV_NAME}</a>; one row per cell).</p>',
        "<table><thead><tr><th>Suite</th><th>Checkpoints</th><th>Scratch twins</th><th>Tasks</th><th>Cells</th>"
        "<th>ok</th><th>diverged</th><th>failed</th></tr></thead><tbody>",
    ]
    for suite in suites:
        mine = [row for row in rows if row["suite"] == suite]
        status = [sum(row["status"] == s for row in mine) for s in ("ok", "diverged", "failed")]
        cells = [
            f'<a href="#{_anchor(suite)}">{_e(suite)}</a>',
            len({row["model"] for row in mine if row["init"] == "pretrained"}),
            len({row["model"] for row in mine if row["init"] == "scratch"}),
            len({row["task"] for row in mine}),
            len(mine),
            *status,
        ]
        lines.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    return "\n".join([*lines, "</tbody></table>"])


def _controls(models: list[str]) -> str:
    options = "".join(f'<option value="{_e(m)}">{_e(m)}</option>' for m in models)
    return (
        '<div class="controls"><label>Filter <input id="filter" type="search" '
        'placeholder="task, model, protocol… (all words must match)"></label>'
        f'<label>Model <select id="model-filter"><option value="">all models</option>{options}</select></label>'
        "<span>Click a column header to sort; again to reverse.</span></div>"
    )


def _suite(
    suite: str,
    summaries: list[Summary],
    rows: list[Row],
    figures: list[tuple[str, str | None]],
    answers: list[str],
) -> list[str]:
    parts = [f'<h2 id="{_anchor(suite)}">Suite <code>{_e(suite)}</code></h2>']
    parts += [f'<section class="answers">{markdown_html.render(answers)}</section>'] if answers else []
    parts.append("<h3>Results</h3>")
    for modality in sorted({s.modality for s in summaries}):
        board = [s for s in summaries if s.modality == modality and s.init == "pretrained"]
        parts.append(_board(suite, modality, sorted(board, key=_board_order)))
    if figures:
        parts.append("<h3>Plots</h3>")
        parts += [_figure(name, uri) for name, uri in figures]
    parts.append(_unfinished([row for row in rows if row["suite"] == suite and row["status"] != "ok"]))
    return parts


def _board_order(summary: Summary) -> tuple:
    """As the markdown: by task, fine-tune before probe, best score first, then model."""
    return (
        summary.task,
        summary.protocol != "finetune",
        -(summary.mean if summary.mean is not None else -1e9),
        summary.model,
    )


def _board(suite: str, modality: str, summaries: list[Summary]) -> str:
    header = "".join(f'<th scope="col" title="{_e(c.tooltip)}">{_e(c.header)}</th>' for c in COLUMNS)
    body = [
        f'<tr data-model="{_e(s.model)}">' + "".join(_cell(c.value(s), c.text(s)) for c in COLUMNS) + "</tr>"
        for s in summaries
    ]
    return "\n".join(
        [
            f'<section class="modality" id="{_anchor(suite, modality)}"><h3>{_e(modality)}</h3>',
            f'<p class="count"><span class="shown">{len(summaries)}</span> of {len(summaries)} rows shown</p>',
            f'<div class="wrap"><table class="board" data-suite="{_e(suite)}" data-modality="{_e(modality)}">',
            f"<thead><tr>{header}</tr></thead><tbody>",
            *body,
            "</tbody></table></div></section>",
        ]
    )


def _cell(value: float | str | None, text: str) -> str:
    if value is None:
        return f'<td class="missing" data-value="">{_e(text)}</td>'
    raw = repr(float(value)) if isinstance(value, int | float) else str(value)
    return f'<td data-value="{_e(raw)}">{_e(text)}</td>'


def _figure(name: str, uri: str | None) -> str:
    if uri is None:
        return f"<p>Plot <code>{_e(name)}</code> is missing.</p>"
    caption = f'{_e(name)} (<a href="{_e(name)}">full size</a>)'
    image = f'<a href="{_e(name)}"><img src="{uri}" alt="{_e(name)}"></a>'
    return f"<figure>{image}<figcaption>{caption}</figcaption></figure>"


def _unfinished(rows: list[Row]) -> str:
    if not rows:
        return ""
    header = "".join(f"<th>{h}</th>" for h in ("Model", "Task", "Protocol", "Seed", "Status", "Reason"))
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{_e(str(v))}</td>"
            for v in (
                row["model"] + (" (scratch)" if row["init"] == "scratch" else ""),
                row["task"],
                row["protocol"],
                row["seed"],
                row["status"],
                row["error"] or "",
            )
        )
        + "</tr>"
        for row in rows
    )
    return f"<h3>Cells that did not finish</h3><table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def _reading_guide() -> str:
    items = "".join(f"<dt>{_e(term)}</dt><dd>{_e(text)}</dd>" for term, text in DEFINITIONS)
    formula = (reusability.__doc__ or "").strip()
    return (
        '<h2 id="how-to-read">How to read this</h2>'
        f"<dl>{items}</dl><h3>Composite reusability score</h3><pre>{_e(formula)}</pre>"
    )


def _anchor(*parts: str) -> str:
    return "-".join("".join(ch if ch.isalnum() else "_" for ch in part) for part in parts)


def _e(text: str) -> str:
    return html.escape(str(text), quote=True)
