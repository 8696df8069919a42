"""The static HTML leaderboard: self-contained, rendered from the results table, sortable and filterable in a
real (headless) browser."""

from __future__ import annotations

import base64
import os
import re
import shutil
import statistics
import struct
import zlib
from pathlib import Path

import pandas as pd
import pytest

from benchmark.report import markdown_html
from benchmark.report.html import PAGE_NAME, render_html, write_html
from benchmark.report.leaderboard import suite_reports
from benchmark.report.table import table_rows, write_results_table
from testkit.suite_records import synthetic_suite
from tests.report.suite_records import SUITE, similarity, suite_results

SCREENSHOT_ENV = "TRANSFER_BENCH_HTML_SCREENSHOT"  # also save the browser test's screenshot here


def tiny_png() -> bytes:
    """A valid 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0\xff\0\0"))
        + chunk(b"IEND", b"")
    )


@pytest.fixture()
def page(tmp_path) -> Path:
    """The synthetic suite's table and page, with one real and one missing plot."""
    parquet, _ = write_results_table(synthetic_suite(), tmp_path)
    (tmp_path / "quality_vs_flops_synth.png").write_bytes(tiny_png())
    return write_html(parquet, tmp_path, {"synth": ["quality_vs_flops_synth.png", "missing_synth.png"]})


def expected_scores(parquet: Path) -> dict[tuple[str, str, str], str]:
    """Score cell text of every pretrained (task, model, protocol), computed from the parquet with pandas."""
    frame = pd.read_parquet(parquet)
    frame = frame[(frame.status == "ok") & (frame.init == "pretrained")]
    expected = {}
    for key, scores in frame.groupby(["task", "model", "protocol"])["test_score"]:
        std = statistics.stdev(scores) if len(scores) > 1 else 0.0
        expected[key] = f"{statistics.fmean(scores):.4f} ± {std:.4f}"
    return expected


def test_page_is_self_contained(page):
    text = page.read_text()
    assert page.name == PAGE_NAME
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:)?//""", text)  # nothing fetched from the network
    assert "<link" not in text and "<script src" not in text and "@import" not in text
    assert 'src="data:image/png;base64,' + base64.b64encode(tiny_png()).decode() + '"' in text
    assert "missing_synth.png</code> is missing" in text


def test_one_board_per_suite_and_modality_with_the_table_values(page):
    text = page.read_text()
    boards = re.findall(r'<table class="board" data-suite="([^"]+)" data-modality="([^"]+)">', text)
    assert boards == [("synth", "text"), ("synth", "vision")]
    for (task, model, protocol), score in expected_scores(page.parent / "results_table.parquet").items():
        row = re.search(
            rf'<tr data-model="{model}"><td data-value="{task}">{task}</td>.*?>{protocol}</td>(.*?)</tr>', text
        )
        first_cell_after_protocol = re.match(r"<td[^>]*>([^<]*)</td>", row.group(1)).group(1)
        assert first_cell_after_protocol == score, (task, model, protocol)
    assert "Cells that did not finish" in text and "CUDA out of memory" in text
    assert "composite" in text  # the formulas


def test_rendering_is_deterministic_and_escapes_names():
    rows = table_rows(synthetic_suite())
    assert render_html(rows) == render_html(list(reversed(rows)))
    rows[0] = {**rows[0], "model": "<script>alert(1)</script>"}
    text = render_html(rows)
    assert "<script>alert(1)</script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_an_empty_table_still_renders():
    assert "No result files yet" in render_html([])


def _browser():
    """A headless Chromium driven by selenium, or a skip naming what to install."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="pip install selenium")
    binary = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
    driver_path = shutil.which("chromedriver")
    if not binary or not driver_path:
        pytest.skip("no headless browser: apt-get install chromium chromium-driver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1600,1000")
    return webdriver.Chrome(options=options, service=Service(driver_path))


def _board(driver, modality: str):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, f'table.board[data-modality="{modality}"]')


def _visible_rows(board) -> list[list[str]]:
    """The cell texts of the rows the browser lays out (hidden rows have no offsetParent)."""
    script = (
        "return Array.from(arguments[0].tBodies[0].rows).filter(r => r.offsetParent !== null)"
        ".map(r => Array.from(r.cells).map(c => c.innerText.trim()));"
    )
    return board.parent.execute_script(script, board)


def _column(board, header: str) -> int:
    from selenium.webdriver.common.by import By

    return [th.text.rstrip(" ▲▼") for th in board.find_elements(By.CSS_SELECTOR, "thead th")].index(header)


@pytest.mark.integration
def test_sorting_and_filtering_in_a_real_browser(page, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    expected = expected_scores(page.parent / "results_table.parquet")
    driver = _browser()
    try:
        driver.get(page.as_uri())
        assert driver.title == "Transfer benchmark leaderboard"
        board = _board(driver, "vision")
        score, model = _column(board, "Score"), _column(board, "Model")
        shown = _visible_rows(board)
        assert len(shown) == 8
        for row in shown:  # what the browser shows is what the table holds
            assert row[score] == expected[(row[0], row[model], row[2])]

        header = board.find_elements(By.CSS_SELECTOR, "thead th")[score]
        header.click()
        ascending = [float(row[score].split(" ± ")[0]) for row in _visible_rows(board)]
        assert ascending == sorted(ascending) and header.get_attribute("aria-sort") == "ascending"
        header.click()
        descending = [float(row[score].split(" ± ")[0]) for row in _visible_rows(board)]
        assert descending == sorted(ascending, reverse=True) and header.get_attribute("aria-sort") == "descending"

        driver.find_element(By.ID, "filter").send_keys("vit_tiny linear")
        rows = _visible_rows(board)
        assert {(row[model], row[2]) for row in rows} == {("vit_tiny", "linear_probe")} and len(rows) == 2
        assert board.find_element(By.XPATH, "ancestor::section").find_element(By.CLASS_NAME, "shown").text == "2"
        assert _visible_rows(_board(driver, "text")) == []

        driver.find_element(By.ID, "filter").clear()
        driver.find_element(By.ID, "filter").send_keys(" ")  # an input event with no terms
        Select(driver.find_element(By.ID, "model-filter")).select_by_value("roberta_tiny")
        assert {row[model] for row in _visible_rows(_board(driver, "text"))} == {"roberta_tiny"}
        assert _visible_rows(board) == []
        driver.save_screenshot(str(tmp_path / "leaderboard.png"))
        if os.environ.get(SCREENSHOT_ENV):
            shutil.copyfile(tmp_path / "leaderboard.png", os.environ[SCREENSHOT_ENV])
    finally:
        driver.quit()
    assert (tmp_path / "leaderboard.png").read_bytes().startswith(b"\x89PNG")


def test_the_page_holds_the_markdown_answers(tmp_path):
    """The reuse ranking, the cards, what reuse buys and the tiers with their intervals are on the page, as in the
    markdown (same numbers: both render the same section lines)."""
    results = suite_results()
    answers = {SUITE: suite_reports(results, [similarity()], n_boot=200)[SUITE].answers}
    text = write_html(table_rows(results), tmp_path, answers=answers).read_text()
    for heading in ("Which checkpoint to reuse", "What reuse buys", "Reusability cards", "Rankings that survive"):
        assert f"<h3>{heading}" in text, heading
    assert re.search(r"<tr><td>1</td><td>B</td><td>0\.568</td>", text)  # rank 1 of the ranking table
    assert "<h4>1. <code>B</code> (vision): composite 0.568</h4>" in text
    assert re.search(r"<td>B − A</td><td>[+-]\d\.\d{4} \[[+-]\d\.\d{4}, [+-]\d\.\d{4}\]</td>", text)  # an interval
    assert (
        "<li><strong>t2</strong>, finetune: tier 1: <code>B</code>, <code>C</code>; tier 2: <code>A</code>.</li>"
        in text
    )


def test_markdown_sections_render_to_escaped_html():
    lines = [
        "### A `x` **b**",
        "",
        "| h1 | h2 |",
        "|---|---|",
        "| <i> | `c` |",
        "",
        "- one",
        "- two",
        "```text",
        "a < b",
        "```",
    ]
    html_text = markdown_html.render(lines + ["![plot](p.png)", "plain & text"])
    assert html_text.startswith("<h3>A <code>x</code> <strong>b</strong></h3>")
    assert (
        "<thead><tr><th>h1</th><th>h2</th></tr></thead><tbody><tr><td>&lt;i&gt;</td><td><code>c</code></td></tr>"
        in html_text
    )
    assert "<ul><li>one</li><li>two</li></ul>" in html_text and "<pre>a &lt; b</pre>" in html_text
    assert "p.png" not in html_text and html_text.endswith("<p>plain &amp; text</p>")
