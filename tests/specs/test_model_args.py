"""Per-model options on the command line: `--model hf:ID@REVISION` and `--model-args` (revision, dtype,
trust_remote_code), the fields a suite file's model entry has."""

from __future__ import annotations

import pytest
import transformers

from benchmark.results.store import find_result_files, read_result
from benchmark.run import build_parser, main
from benchmark.specs.adhoc import parse_models
from benchmark.specs.registry import SpecError
from testkit.fixtures import tiny_run_args


def _parsed(*argv: str):
    args = build_parser().parse_args(["--suite", "s", *argv])
    return parse_models(args.model, args.model_args)


def test_model_args_set_the_options_of_the_model_before_them(tiny_assets):
    bert, resnet = str(tiny_assets / "tiny-bert"), str(tiny_assets / "tiny-resnet")
    first, second = _parsed(
        *("--model", f"b16={bert}", "--model-args", "dtype=bfloat16, trust_remote_code=true"),
        *("--model", resnet),
    )
    assert (first.id, first.dtype, first.trust_remote_code) == ("b16", "bfloat16", True)
    assert (second.dtype, second.trust_remote_code) == (None, False)  # off unless asked
    assert first.scratch_twin().dtype == "bfloat16"  # the twin trains like its checkpoint


def test_a_hub_revision_reaches_the_config_and_the_spec(monkeypatch):
    asked = {}

    def fake_config(hub_id, **options):
        asked.update(options, hub_id=hub_id)
        return transformers.BertConfig()

    monkeypatch.setattr(transformers.AutoConfig, "from_pretrained", fake_config)
    (spec,) = _parsed("--model", "hf:org/bert@v1.0", "--model-args", "dtype=float16")
    assert (spec.checkpoint, spec.revision, spec.dtype, spec.id) == ("org/bert", "v1.0", "float16", "org--bert")
    assert asked == {"hub_id": "org/bert", "revision": "v1.0", "trust_remote_code": False}
    (spec,) = _parsed("--model", "hf:org/bert", "--model-args", "revision=abc123")
    assert spec.revision == "abc123"


@pytest.mark.parametrize(
    ("model_args", "message"),
    [
        ("dtyp=bfloat16", "unknown option 'dtyp'; expected one of revision, dtype, trust_remote_code; did you mean"),
        ("dtype=float8", "field 'dtype': Input should be 'float32', 'bfloat16' or 'float16'"),
        ("trust_remote_code=maybe", "expected true or false"),
        ("dtype", "expected KEY=VALUE"),
        ("revision=v1", "a revision applies to transformers hub checkpoints, not timm"),
    ],
)
def test_bad_model_args_name_the_model_and_the_option(tiny_assets, model_args, message):
    with pytest.raises(SpecError, match="--model") as error:
        _parsed("--model", str(tiny_assets / "tiny-resnet"), "--model-args", model_args)
    assert message in error.value.problems[0]


def test_model_args_before_any_model_are_refused(capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["--model-args", "dtype=bfloat16", "--model", "timm:x"])
    assert exit_.value.code == 2
    assert "give it after the --model it sets options for" in capsys.readouterr().err


@pytest.mark.integration
def test_a_model_run_in_bfloat16_records_its_dtype(tiny_tasks, tiny_assets, tmp_path):
    bert = str(tiny_assets / "tiny-bert")
    args = tiny_run_args(
        *(tiny_tasks, tiny_assets, tmp_path),
        *("--tasks", "topics", "--models", "bert-b16", "--model", f"bert-b16={bert}", "--model-args", "dtype=bfloat16"),
        *("--no-scratch", "--no-similarity", "--max-steps", "4", "--probe-epochs", "2"),
    )
    assert main(args) == 0
    results = [read_result(path) for path in find_result_files(tmp_path / "tiny")]
    assert {r.protocol for r in results} == {"finetune", "linear_probe"}
    for result in results:
        assert result.status == "ok", result.error
        assert result.specs["model"]["dtype"] == "bfloat16" and result.fingerprint.settings["model.dtype"] == "bfloat16"
