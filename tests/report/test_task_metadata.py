"""Task metadata (version, licence, citation): optional in the task schema, shown by `--list` and on the
leaderboard's markdown and HTML page; boards of tasks without it render as before."""

from __future__ import annotations

import textwrap

from benchmark.report.leaderboard import build_leaderboard
from benchmark.report.task_metadata import task_metadata_section
from benchmark.results.schema import Convergence, CurvePoint
from benchmark.results.store import result_path, write_result
from benchmark.specs.listing import describe_registry
from benchmark.specs.sources import collect_sources
from testkit.records import make_result

TASK = {
    "task": "t",
    "description": "Colour squares",
    "version": "1.1",
    "licence": "CC-BY-4.0",
    "citation": "Doe, J. (2020). Colour | squares.\n  A dataset.",
}


def _result(model: str, init: str, task_spec: dict, seed: int = 0):
    curve = [CurvePoint(step=1, epoch=1.0, train_elapsed_s=1.0, score=0.8, metrics={"accuracy": 0.8})]
    return make_result(
        model=model,
        init=init,
        seed=seed,
        metrics={"accuracy": 0.8},
        validation_metrics={"accuracy": 0.8},
        curve=curve,
        convergence=Convergence(flattened=True, late_gain=0.0, tolerance=0.01),
        specs={"task": task_spec},
    )


def test_the_section_lists_each_task_with_its_metadata_on_one_line():
    lines = task_metadata_section([_result("a", "pretrained", TASK)], "s")
    assert lines[0] == "### Tasks"
    assert "| t | 1.1 | CC-BY-4.0 | Colour squares | Doe, J. (2020). Colour \\| squares. A dataset. |" in lines


def test_no_metadata_no_section():
    assert task_metadata_section([_result("a", "pretrained", {"task": "t", "description": "x"})], "s") == []


def test_the_markdown_and_the_page_show_it(tmp_path):
    for model, init in (("a", "pretrained"), ("a", "scratch")):
        write_result(result_path(tmp_path / "r", "s", model, init, "t", "finetune", 0), _result(model, init, TASK))
    markdown = build_leaderboard(tmp_path / "r", tmp_path / "out", n_boot=20).read_text()
    assert "### Tasks" in markdown and "CC-BY-4.0" in markdown
    page = (tmp_path / "out" / "index.html").read_text()
    assert "CC-BY-4.0" in page and "Doe, J. (2020)" in page


def test_list_shows_version_licence_and_citation(tmp_path):
    (tmp_path / "vision").mkdir()
    (tmp_path / "vision" / "t.yaml").write_text(
        textwrap.dedent(
            """
            task: t
            modality: vision
            version: "2"
            licence: MIT
            citation: |
              Doe, J. (2020).
              Squares.
            dataset: {path: imagefolder, data_dir: x, input_column: image}
            """
        )
    )
    registry, problems = collect_sources([tmp_path])
    assert not problems
    listing = describe_registry(registry)
    assert "(version 2, licence MIT)" in listing and "cite: Doe, J. (2020). Squares." in listing
