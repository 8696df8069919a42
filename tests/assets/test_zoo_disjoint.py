"""The zoo is disjoint by construction (issue #22): no example of any source or control appears in any target's
train, validation or test split, checked on the built files' content (decoded pixels, normalised text, PCM).

The drawing logic runs on stand-in pools everywhere (CI included); tiny builds of the real zoo, with the same
builder code, run where the zoo's packages are installed (`bash scripts/setup_zoo.sh`), and the prepared full
zoo is checked where `python -m benchmark.assets.prepare --zoo` has built it. A skip says which is missing.
"""

from __future__ import annotations

import csv
import wave
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmark.assets import zoo_data
from benchmark.assets.errors import AssetMissingError
from benchmark.assets.zoo_data.layout import (
    ZOO_SPLITS,
    ContentIndex,
    SourceBudget,
    SplitSizes,
    image_hash,
    pcm_hash,
    read_design,
    shuffled_labels,
    take_source_splits,
    take_target_splits,
    text_hash,
    write_design,
)
from benchmark.utils.paths import default_assets_dir

TINY_SCALE = 0.03


def example_hashes(task_dir: Path, modality: str) -> dict[str, str]:
    """{content hash: 'split/label/file'} of every example a built task holds, read back from its files."""
    found: dict[str, str] = {}
    if modality == "text":
        for split in ZOO_SPLITS:
            with (task_dir / f"{split}.csv").open(encoding="utf-8", newline="") as handle:
                for row in csv.DictReader(handle):
                    found[text_hash(row["text"])] = f"{split}/{row['label']}"
        return found
    suffix = ".png" if modality == "vision" else ".wav"
    for path in sorted(task_dir.rglob(f"*{suffix}")):
        found[_file_hash(path, modality)] = str(path.relative_to(task_dir))
    return found


def _file_hash(path: Path, modality: str) -> str:
    if modality == "vision":
        with Image.open(path) as image:
            return image_hash(np.asarray(image))
    with wave.open(str(path)) as reader:
        return pcm_hash(np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2"))


def same_classes_and_domain(root: Path) -> list[str]:
    """'source ~ target' for every source or control with a target's classes and the same input domain."""
    design = read_design(root)
    targets = {n: i for n, i in design.items() if i["role"] == "target"}
    return [
        f"{name} ~ {target}"
        for name, info in design.items()
        if info["role"] != "target"
        for target, target_info in targets.items()
        if info["classes"] == target_info["classes"] and info["domain"] == target_info["domain"]
    ]


def shared_examples(root: Path, modality: str) -> list[str]:
    """'source task file == target task file' for every example a source or control shares with a target."""
    design = read_design(root)
    hashes = {name: example_hashes(root / name, modality) for name in design}
    shared = []
    for target in (n for n, info in design.items() if info["role"] == "target"):
        for other in (n for n, info in design.items() if info["role"] != "target"):
            both = hashes[target].keys() & hashes[other].keys()
            shared += [f"{other}/{hashes[other][h]} == {target}/{hashes[target][h]}" for h in sorted(both)]
    return shared


def test_sources_never_take_what_a_target_holds() -> None:
    """Stand-in pools that overlap: the target takes its examples first, the source skips those and repeats."""
    index = ContentIndex(str)
    target_pool = {"a": iter(["x1", "x2", "x3", "x4"]), "b": iter(["y1", "y2", "y3", "y1", "y4"])}
    target = take_target_splits({s: target_pool for s in ZOO_SPLITS}, SplitSizes(1, 1, 2), index, "target")
    assert target["test"] == {"a": ["x1", "x2"], "b": ["y1", "y2"]} and target["train"] == {"a": ["x4"], "b": ["y4"]}
    pools = {"p": iter(["x1", "q1", "y2", "q2", "q1", "q3"]), "r": iter(["r1", "x4", "r2"])}
    source = take_source_splits(pools, SourceBudget(train=3, validation=2, test=0), index, "source")
    assert source["train"] == {"p": ["q1", "q2"], "r": ["r1"]}  # classes in turn, target and repeated ones skipped
    assert source["validation"] == {"p": ["q3"], "r": ["r2"]} and source["test"] == {"p": [], "r": []}


def test_a_source_that_runs_out_of_new_examples_raises() -> None:
    index = ContentIndex(str)
    index.claim("a")
    with pytest.raises(ValueError, match="only 1 new examples"):
        take_source_splits({"k": iter(["a", "b", "a"])}, SourceBudget(2, 1, 1), index, "small")


def test_a_source_with_a_targets_classes_and_domain_is_named(tmp_path: Path) -> None:
    design = {
        "t": {"role": "target", "classes": ["0", "1"], "domain": "handwritten digits"},
        "same_labels_other_domain": {"role": "source", "classes": ["0", "1"], "domain": "printed glyphs"},
        "other_labels_same_domain": {"role": "source", "classes": ["a", "b"], "domain": "handwritten digits"},
        "relabelled_copy": {"role": "control", "classes": ["0", "1"], "domain": "handwritten digits"},
    }
    write_design(tmp_path, design)
    assert same_classes_and_domain(tmp_path) == ["relabelled_copy ~ t"]


def test_the_control_keeps_the_inputs_and_label_counts_but_not_the_pairing() -> None:
    rng = np.random.default_rng(0)
    splits = {"train": {"a": [f"a{i}" for i in range(50)], "b": [f"b{i}" for i in range(30)]}}
    control = shuffled_labels(splits, rng)["train"]
    assert {label: len(xs) for label, xs in control.items()} == {"a": 50, "b": 30}
    assert sorted(control["a"] + control["b"]) == sorted(splits["train"]["a"] + splits["train"]["b"])
    assert 0 < sum(x.startswith("a") for x in control["a"]) < 50  # labels moved


@pytest.fixture(scope="module", params=sorted(zoo_data.MODALITIES))
def tiny_zoo(request, tmp_path_factory) -> tuple[Path, str]:
    """A tiny build of one modality's zoo with the real builders and packages."""
    modality = request.param
    try:
        root = zoo_data.build_zoo(tmp_path_factory.mktemp(f"zoo-{modality}"), modality, scale=TINY_SCALE)
    except AssetMissingError as error:
        pytest.skip(f"zoo {modality} packages not installed ({error}); run bash scripts/setup_zoo.sh")
    return root, modality


@pytest.mark.integration
def test_a_tiny_zoo_shares_no_example_between_a_source_and_a_target(tiny_zoo) -> None:
    root, modality = tiny_zoo
    design = read_design(root)
    spec = zoo_data.MODALITIES[modality]
    assert {n for n, i in design.items() if i["role"] == "target"} == set(spec.targets)
    assert {n for n, i in design.items() if i["role"] == "source"} == set(spec.sources)
    assert shared_examples(root, modality) == []
    assert same_classes_and_domain(root) == []
    for name, info in design.items():  # every file is a distinct example within its task too
        assert len(example_hashes(root / name, modality)) == sum(info["counts"].values()), name


@pytest.mark.integration
def test_every_source_of_a_tiny_zoo_has_the_same_budget(tiny_zoo) -> None:
    root, modality = tiny_zoo
    design = read_design(root)
    budgets = Counter(tuple(sorted(i["counts"].items())) for i in design.values() if i["role"] != "target")
    assert len(budgets) == 1, budgets


@pytest.mark.integration
@pytest.mark.parametrize("modality", sorted(zoo_data.MODALITIES))
def test_the_prepared_zoo_shares_no_example_between_a_source_and_a_target(modality: str) -> None:
    root = default_assets_dir() / "data" / f"zoo_{modality}"
    if not (root / "design.json").is_file():
        pytest.skip(f"{root} not built: python -m benchmark.assets.prepare --zoo")
    assert shared_examples(root, modality) == []
    assert same_classes_and_domain(root) == []
    design = read_design(root)
    for name, info in design.items():
        if info["role"] == "target":
            assert info["counts"]["validation"] >= 300 and info["counts"]["test"] >= 1000, name
