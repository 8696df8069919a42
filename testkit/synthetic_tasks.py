"""Random-weight checkpoints of a chosen size and many-class synthetic tasks that are learnable but not trivial,
written to disk so the suite loads them exactly as it loads real assets (`build_model`, `load_encoded`).

The speed script's search benchmark uses them: a search only means something when configurations differ, so
each class carries a weak signal under heavy noise (images: a class colour and stripe pattern; texts: a share of
class-specific words among common ones), unlike testkit/fixtures.py's tasks, which every configuration solves.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import timm
import torch
from PIL import Image
from timm.models import save_for_hf

from benchmark.specs.schema import DatasetSpec, ModelSpec, PreprocessingSpec, TaskSpec

COMMON_WORDS = 400  # words every class uses
CLASS_WORDS = 20  # words specific to each class
METRICS = ["accuracy", "f1_macro"]


def make_timm_model_checkpoint(directory: Path, architecture: str, image_size: int, seed: int = 0) -> ModelSpec:
    """A random-weight timm `architecture` saved in timm's folder format with a square `image_size` input."""
    torch.manual_seed(seed)
    model = timm.create_model(architecture, pretrained=False, num_classes=10)
    model.pretrained_cfg = {**model.pretrained_cfg, "input_size": (3, image_size, image_size), "crop_pct": 1.0}
    save_for_hf(model, str(directory), safe_serialization=True)
    return ModelSpec(id=f"{architecture}-{image_size}px", library="timm", checkpoint=str(directory), modality="vision")


def word_vocabulary(classes: int) -> list[str]:
    """The words of the synthetic texts: common words, then each class's own."""
    return [f"c{i}" for i in range(COMMON_WORDS)] + [f"k{c}x{i}" for c in range(classes) for i in range(CLASS_WORDS)]


def make_bert_model_checkpoint(
    directory: Path, classes: int, hidden: int, layers: int, heads: int, max_length: int, seed: int = 0
) -> ModelSpec:
    """A random-weight BERT of the given size with a word-level tokenizer over `word_vocabulary(classes)`."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    directory.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *word_vocabulary(classes)]
    tokenizer = BertTokenizerFast(vocab={word: index for index, word in enumerate(vocab)})
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=4 * hidden,
        max_position_embeddings=max(64, max_length + 2),
    )
    torch.manual_seed(seed)
    BertModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return ModelSpec(id=f"bert-{layers}x{hidden}", library="transformers", checkpoint=str(directory), modality="text")


def make_noisy_image_task(
    directory: Path, classes: int, train_per_class: int, test_per_class: int, image_size: int, seed: int = 0
) -> TaskSpec:
    """An imagefolder of `classes` classes: each image is its class's colour and stripe pattern under strong
    pixel noise, so accuracy grows with training rather than jumping to 1; validation is held out of train."""
    rng = np.random.default_rng(seed)
    colours = rng.uniform(60, 196, (classes, 3))
    frequencies = rng.uniform(1, 4, classes)
    grid = np.arange(image_size) / image_size
    for split, count in (("train", train_per_class), ("test", test_per_class)):
        for label in range(classes):
            folder = directory / split / f"class{label:02d}"
            folder.mkdir(parents=True, exist_ok=True)
            stripes = 40 * np.sin(2 * np.pi * frequencies[label] * grid)[None, :, None]
            for index in range(count):
                noise = rng.normal(0, 70, (image_size, image_size, 3))
                pixels = np.clip(colours[label] + stripes + noise, 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(folder / f"{index}.png")
    return TaskSpec(
        task=f"noisy-images-{classes}",
        modality="vision",
        dataset=DatasetSpec(path="imagefolder", data_dir=str(directory), input_column="image"),
        metrics=METRICS,
        main_metric="accuracy",
    )


def make_word_topic_task(
    directory: Path,
    classes: int,
    train_per_class: int,
    test_per_class: int,
    words: int,
    class_share: float = 0.15,
    seed: int = 0,
) -> TaskSpec:
    """train.csv / test.csv of `words`-word texts: each word is one of the class's own words with probability
    `class_share`, else a common word, over `word_vocabulary(classes)`."""
    rng = np.random.default_rng(seed)
    vocabulary = word_vocabulary(classes)
    common, own = vocabulary[:COMMON_WORDS], vocabulary[COMMON_WORDS:]
    directory.mkdir(parents=True, exist_ok=True)
    for split, count in (("train", train_per_class), ("test", test_per_class)):
        with open(directory / f"{split}.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            for label in range(classes):
                mine = own[label * CLASS_WORDS : (label + 1) * CLASS_WORDS]
                for _ in range(count):
                    picks = [
                        rng.choice(mine) if rng.random() < class_share else rng.choice(common) for _ in range(words)
                    ]
                    writer.writerow([" ".join(picks), f"topic{label:02d}"])
    files = {"train": str(directory / "train.csv"), "test": str(directory / "test.csv")}
    return TaskSpec(
        task=f"word-topics-{classes}",
        modality="text",
        dataset=DatasetSpec(path="csv", data_files=files, input_column="text", label_column="label"),
        metrics=METRICS,
        main_metric="accuracy",
        preprocessing=PreprocessingSpec(max_length=words + 2),
    )
