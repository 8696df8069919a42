"""`perf/gpu.py`: importable and skipped cleanly where a GPU image lacks packages or there is no CUDA, and its loops
and table work end to end (on the CPU, with tiny networks and the eager loops; the figures are only checked for
sanity, never against thresholds)."""

from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys

import pytest
import timm
import torch
from accelerate import Accelerator
from transformers import AutoModelForSequenceClassification, BertConfig

from benchmark.models.wrappers import HFTransferModel, TimmTransferModel
from benchmark.utils.paths import REPO_ROOT
from perf import gpu

pytestmark = pytest.mark.unit

ABSENT_ON_GPU_IMAGE = ("datasets", "evaluate", "pydantic", "soundfile")
# Hide the packages (an entry of None in sys.modules makes `import` fail and `find_spec` answer None, as if they
# were not installed), load the transformers classes the script builds, then run the script as `python` would.
WITHOUT_PACKAGES = f"""
import runpy, sys
for name in {ABSENT_ON_GPU_IMAGE!r}:
    sys.modules[name] = None
sys.argv = ["perf/gpu.py"]
from transformers import AutoModelForAudioClassification, AutoModelForSequenceClassification
from transformers import BertConfig, Wav2Vec2Config
runpy.run_path("perf/gpu.py", run_name="__main__")
"""


def test_the_script_runs_without_the_packages_a_gpu_image_lacks_and_skips_without_cuda():
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_PACKAGES],
        cwd=REPO_ROOT,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "no CUDA: skipped" in done.stdout


def _tiny_resnet() -> TimmTransferModel:
    network = timm.create_model(
        "resnet10t", pretrained=False, num_classes=gpu.NUM_CLASSES, layers=(1, 1, 1, 1), channels=(4, 4, 8, 8)
    )
    return TimmTransferModel(network, None)


def _tiny_bert() -> HFTransferModel:
    config = BertConfig(
        vocab_size=30_522,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        num_labels=gpu.NUM_CLASSES,
    )
    return HFTransferModel(AutoModelForSequenceClassification.from_config(config))


TINY_CASES = {
    "conv": gpu.GpuCase("tiny ResNet", 4, _tiny_resnet, gpu._images(16), convolutional=True),
    "text": gpu.GpuCase("tiny BERT", 4, _tiny_bert, gpu._tokens(8)),
}
EAGER = gpu.Settings(warmup=1, steps=2, bf16=False, compile=False)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_every_eager_loop_measures_throughput_and_utilisation_and_the_table_compares_them(capsys, tmp_path):
    report = gpu.Report({"gpu": None}, dataclasses.asdict(EAGER), json_path=tmp_path / "gpu.json")
    measurements = gpu.measure(TINY_CASES, Accelerator(cpu=True), EAGER, report)
    assert [(m.case, m.loop) for m in measurements] == [
        ("tiny ResNet", "plain eager"),
        ("tiny ResNet", "plain channels_last"),
        ("tiny ResNet", "suite"),
        ("tiny ResNet", "suite streamed"),
        ("tiny BERT", "plain eager"),
        ("tiny BERT", "suite"),
        ("tiny BERT", "suite streamed"),
    ]
    assert all(math.isfinite(m.examples_per_s) and m.examples_per_s > 0 and m.mfu > 0 for m in measurements)
    assert all(m.skipped is None and m.peak_bytes is None for m in measurements)  # no CUDA memory to count
    gpu.print_table(TINY_CASES, measurements, EAGER)
    table = capsys.readouterr().out
    assert "| tiny ResNet (4) |" in table and "| tiny BERT (4) |" in table
    assert table.count("/ plain ") == 2  # a ratio per network, naming the loops it compares
    assert '"loop": "suite streamed"' in (tmp_path / "gpu.json").read_text()


def test_compiled_loops_come_after_every_eager_one_in_pairs():
    planned = gpu.planned_runs(TINY_CASES)
    assert planned[-4:] == [
        ("conv", "plain compile"),
        ("conv", "suite compile"),
        ("text", "plain compile"),
        ("text", "suite compile"),
    ]
    assert ("text", "plain channels_last") not in planned


def test_loops_that_would_start_after_the_budget_are_reported_skipped():
    settings = dataclasses.replace(EAGER, budget_s=-1.0)
    report = gpu.Report({}, {})
    measurements = gpu.measure(TINY_CASES, Accelerator(cpu=True), settings, report)
    assert measurements and all(m.skipped and m.examples_per_s is None for m in measurements)


def _unbuildable() -> HFTransferModel:
    raise RuntimeError("CUDA out of memory (a stand-in)")


def test_a_loop_that_fails_is_reported_and_the_others_still_run():
    cases = {"broken": gpu.GpuCase("broken", 4, _unbuildable, gpu._tokens(8)), "text": TINY_CASES["text"]}
    measurements = gpu.measure(cases, Accelerator(cpu=True), EAGER, gpu.Report({}, {}))
    broken = [m for m in measurements if m.case == "broken"]
    assert broken and all("failed: RuntimeError: CUDA out of memory" in m.skipped for m in broken)
    assert all(m.examples_per_s > 0 for m in measurements if m.case == "tiny BERT")
