"""Tiny checkpoints, datasets and task/suite YAML that the tests build themselves (nothing is downloaded).

Each dataset is learnable from its inputs (images by colour, texts by vocabulary, audio by pitch), so an
end-to-end run has something real to measure, yet every model is small enough for a CPU test in seconds.
"""

from __future__ import annotations

import csv
import sys
import textwrap
from pathlib import Path

import numpy as np
import soundfile
import timm
import torch
from PIL import Image
from timm.models import save_for_hf

from benchmark.utils.paths import REPO_ROOT

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220)}
WORDS = {"sport": "goal match team score league coach", "food": "bread soup apple cheese salad bake"}
TONES_HZ = {"low": 220.0, "high": 880.0}
SAMPLING_RATE = 16000
RUN_SCRIPT = str(REPO_ROOT / "benchmark" / "run.py")


def tiny_run_args(tasks_dir: Path, assets_dir: Path, output_dir: Path, *extra: str) -> list[str]:
    """`benchmark/run.py` arguments for the tiny suite over the given registry, assets and output folders."""
    locations = ["--tasks-dir", str(tasks_dir), "--assets-dir", str(assets_dir), "--output-dir", str(output_dir)]
    return [*locations, "--suite", "tiny", *extra]


def cpu_launch_command(processes: int) -> list[str]:
    """`accelerate launch benchmark/run.py` on `processes` CPU processes, without any accelerate config.

    `--cpu` selects accelerate's single-process launcher; several CPU processes go through torchrun
    (`--multi_gpu`) with ACCELERATE_USE_CPU=true in the environment, which makes Accelerate use gloo.
    """
    return [
        *(sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(processes)),
        *("--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"),
        "--multi_gpu" if processes > 1 else "--cpu",
        RUN_SCRIPT,
    ]


def make_timm_checkpoint(directory: Path, num_source_classes: int = 4) -> Path:
    """A random-weight timm `test_resnet` saved in timm's folder format, with a small input size."""
    torch.manual_seed(0)
    model = timm.create_model("test_resnet", pretrained=False, num_classes=num_source_classes)
    model.pretrained_cfg = {**model.pretrained_cfg, "input_size": (3, 32, 32), "crop_pct": 1.0}
    save_for_hf(model, str(directory), safe_serialization=True)
    return directory


def make_bert_checkpoint(directory: Path) -> Path:
    """A 2-layer BERT with a word-level vocabulary covering the fixture texts."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    directory.mkdir(parents=True, exist_ok=True)
    words = sorted({w for text in WORDS.values() for w in text.split()} | {"the", "a", "and"})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]
    (directory / "vocab.txt").write_text("\n".join(vocab) + "\n")
    # transformers 5 ignores `vocab_file=` here; a vocabulary mapping is honoured (checked below).
    tokenizer = BertTokenizerFast(vocab={word: index for index, word in enumerate(vocab)})
    assert tokenizer.convert_tokens_to_ids(words[0]) == vocab.index(words[0]), "tokenizer lost the fixture vocabulary"
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def make_wav2vec2_checkpoint(directory: Path) -> Path:
    """A 2-layer Wav2Vec2 with a small convolutional front end and its feature extractor."""
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

    config = Wav2Vec2Config(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(32, 32, 32),
        conv_stride=(5, 4, 4),
        conv_kernel=(10, 8, 8),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        classifier_proj_size=16,
    )
    torch.manual_seed(0)
    Wav2Vec2Model(config).save_pretrained(directory)
    Wav2Vec2FeatureExtractor(sampling_rate=SAMPLING_RATE, return_attention_mask=False).save_pretrained(directory)
    return directory


def make_image_folder(directory: Path, per_class: int = 12, seed: int = 0) -> Path:
    """An imagefolder of noisy solid-colour squares, one class per colour, train and test splits."""
    rng = np.random.default_rng(seed)
    for split, count in (("train", per_class), ("test", per_class // 2)):
        for name, rgb in COLOURS.items():
            (directory / split / name).mkdir(parents=True, exist_ok=True)
            for index in range(count):
                pixels = np.clip(np.array(rgb) + rng.normal(0, 25, (24, 24, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(directory / split / name / f"{index}.png")
    return directory


def make_text_csv(directory: Path, per_class: int = 12, seed: int = 0, words: dict[str, str] = WORDS) -> Path:
    """train.csv / test.csv of short texts drawn from a per-class vocabulary (`words`), with string labels."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    for split, count in (("train", per_class), ("test", per_class // 2)):
        with open(directory / f"{split}.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            for label, vocabulary in words.items():
                choices = vocabulary.split()
                for _ in range(count):
                    writer.writerow([" ".join(rng.choice(choices, size=5)), label])
    return directory


def make_audio_folder(directory: Path, per_class: int = 8, seed: int = 0) -> Path:
    """An audiofolder of noisy tones, one class per pitch, 0.5 s at 16 kHz."""
    rng = np.random.default_rng(seed)
    time = np.arange(int(0.5 * SAMPLING_RATE)) / SAMPLING_RATE
    for split, count in (("train", per_class), ("test", per_class // 2)):
        for name, hertz in TONES_HZ.items():
            (directory / split / name).mkdir(parents=True, exist_ok=True)
            for index in range(count):
                wave = 0.5 * np.sin(2 * np.pi * hertz * time + rng.uniform(0, np.pi)) + rng.normal(0, 0.05, time.size)
                soundfile.write(directory / split / name / f"{index}.wav", wave.astype(np.float32), SAMPLING_RATE)
    return directory


def write_tiny_registry(tasks_dir: Path) -> Path:
    """Task YAML for the three tiny datasets and a `tiny` suite, with paths under the `{assets}` placeholder."""
    (tasks_dir / "suites").mkdir(parents=True, exist_ok=True)
    files = {
        "vision/colours.yaml": """
            task: colours
            modality: vision
            dataset: {path: imagefolder, data_dir: "{assets}/colours", input_column: image}
            metrics: [accuracy, f1_macro]
            main_metric: accuracy
        """,
        "text/topics.yaml": """
            task: topics
            modality: text
            dataset:
              path: csv
              data_files: {train: "{assets}/topics/train.csv", test: "{assets}/topics/test.csv"}
              input_column: text
            metrics: [accuracy, matthews_correlation]
            main_metric: accuracy
            preprocessing: {max_length: 16}
        """,
        "text/topics_relabelled.yaml": """
            task: topics_relabelled
            modality: text
            description: The topics task with its class ids swapped, a relabelled copy for similarity tests.
            dataset:
              path: csv
              data_files: {train: "{assets}/topics/train.csv", test: "{assets}/topics/test.csv"}
              input_column: text
              label_names: [sport, food]
            preprocessing: {max_length: 16}
        """,
        "audio/tones.yaml": """
            task: tones
            modality: audio
            dataset: {path: audiofolder, data_dir: "{assets}/tones", input_column: audio}
            metrics: [accuracy]
            main_metric: accuracy
            preprocessing: {clip_seconds: 0.5}
        """,
        "suites/tiny.yaml": """
            suite: tiny
            models:
              - {id: tiny-resnet, library: timm, checkpoint: "{assets}/tiny-resnet", modality: vision}
              - id: tiny-bert
                library: transformers
                checkpoint: "{assets}/tiny-bert"
                modality: text
                pretraining_sample:
                  path: csv
                  data_files: {train: "{assets}/topics/train.csv", test: "{assets}/topics/test.csv"}
                  input_column: text
              - {id: tiny-w2v2, library: transformers, checkpoint: "{assets}/tiny-w2v2", modality: audio}
            tasks: [colours, topics, topics_relabelled, tones]
            seeds: [0]
            training: {epochs: 2, probe_epochs: 5, batch_size: 8, evals_per_epoch: 1}
            search:
              finetune: {learning_rate: [0.001, 0.003]}
              finetune_scratch: {learning_rate: [0.001, 0.003]}
              linear_probe: {learning_rate: [0.01], weight_decay: [0.0, 0.1]}
        """,
    }
    for name, text in files.items():
        path = tasks_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return tasks_dir


def build_tiny_assets(root: Path) -> Path:
    """Every tiny checkpoint and dataset under `root`."""
    make_timm_checkpoint(root / "tiny-resnet")
    make_bert_checkpoint(root / "tiny-bert")
    make_wav2vec2_checkpoint(root / "tiny-w2v2")
    make_image_folder(root / "colours")
    make_text_csv(root / "topics")
    make_audio_folder(root / "tones")
    return root
