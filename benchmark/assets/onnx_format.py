"""Read the weights and node wiring of an ONNX model without the onnx package.

An ONNX file is a protobuf `ModelProto`. Only a few fields are needed to recover a network's weights:
ModelProto.graph (7); GraphProto.node (1) and .initializer (5); NodeProto.input (1), .output (2) and
.op_type (4); TensorProto.dims (1), .data_type (2), .float_data (4), .name (8) and .raw_data (9).
"""

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5
# TensorProto.DataType values this reader accepts.
TENSOR_TYPES = {1: torch.float32, 7: torch.int64}


@dataclass(frozen=True)
class Node:
    """One graph node: its operator and the names of the values it reads and writes."""

    op_type: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


def _varint(data: memoryview, pos: int) -> tuple[int, int]:
    """Decode a base-128 varint at pos; return (value, next position)."""
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _fields(data: memoryview) -> Iterator[tuple[int, int | memoryview]]:
    """Yield (field number, value) for each field of a message; length-delimited values stay views."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == VARINT:
            value, pos = _varint(data, pos)
        elif wire == LENGTH:
            length, pos = _varint(data, pos)
            value, pos = data[pos : pos + length], pos + length
        elif wire in (FIXED64, FIXED32):
            size = 8 if wire == FIXED64 else 4
            value, pos = data[pos : pos + size], pos + size
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, value


def _packed_varints(value: int | memoryview) -> list[int]:
    """A repeated int64 field entry: one varint, or a packed run of them."""
    if isinstance(value, int):
        return [value]
    numbers, pos = [], 0
    while pos < len(value):
        number, pos = _varint(value, pos)
        numbers.append(number)
    return numbers


def _tensor(message: memoryview) -> tuple[str, torch.Tensor]:
    """Decode a TensorProto held inline (raw_data or float_data) into a named tensor."""
    name, dims, data_type, raw, floats = "", [], 0, b"", []
    for number, value in _fields(message):
        if number == 1:
            dims.extend(_packed_varints(value))
        elif number == 2:
            data_type = value
        elif number == 4:
            floats.extend(struct.unpack(f"<{len(value) // 4}f", value))
        elif number == 8:
            name = bytes(value).decode("utf-8")
        elif number == 9:
            raw = bytes(value)
    if data_type not in TENSOR_TYPES or not (raw or floats or 0 in dims):
        raise ValueError(f"ONNX initializer {name!r}: data type {data_type} or external data not supported")
    if raw:
        return name, torch.frombuffer(bytearray(raw), dtype=TENSOR_TYPES[data_type]).reshape(dims)
    return name, torch.tensor(floats, dtype=TENSOR_TYPES[data_type]).reshape(dims)


def _node(message: memoryview) -> Node:
    """Decode the operator and value names of a NodeProto."""
    inputs, outputs, op_type = [], [], ""
    for number, value in _fields(message):
        if number in (1, 2):
            (inputs if number == 1 else outputs).append(bytes(value).decode("utf-8"))
        elif number == 4:
            op_type = bytes(value).decode("utf-8")
    return Node(op_type, tuple(inputs), tuple(outputs))


def read_onnx_graph(path: Path) -> tuple[dict[str, torch.Tensor], list[Node]]:
    """Return the graph's initializers by name and its nodes in file (topological) order."""
    model = memoryview(Path(path).read_bytes())
    graphs = [value for number, value in _fields(model) if number == 7]
    if len(graphs) != 1:
        raise ValueError(f"{path}: expected one graph, found {len(graphs)}")
    initializers, nodes = {}, []
    for number, value in _fields(graphs[0]):
        if number == 1:
            nodes.append(_node(value))
        elif number == 5:
            name, tensor = _tensor(value)
            initializers[name] = tensor
    return initializers, nodes
