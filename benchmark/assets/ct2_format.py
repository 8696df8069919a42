"""Read CTranslate2 `model.bin` files without the ctranslate2 package.

The format (binary version 6) is little-endian: a u32 version, the spec name, a u32 revision, a u32 count of
variables, each as name, u8 rank, u32 dims, u8 dtype id, u32 byte count and raw data; then a u32 count of
aliases, each a pair of names (alias, target). Strings are a u16 length (terminating NUL included), the
UTF-8 bytes and the NUL.
"""

import struct
from pathlib import Path

import torch

SUPPORTED_VERSIONS = (5, 6)
# Order of CTranslate2's DataType enum (include/ctranslate2/types.h).
DTYPES = (torch.float32, torch.int8, torch.int16, torch.int32, torch.float16, torch.bfloat16)


class _Cursor:
    """A read position over the file's bytes."""

    def __init__(self, data: bytearray) -> None:
        self.data = data
        self.pos = 0

    def unpack(self, fmt: str) -> int:
        """Read one little-endian struct field."""
        (value,) = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return value

    def string(self) -> str:
        """Read a length-prefixed, NUL-terminated UTF-8 string."""
        length = self.unpack("H")
        text = self.data[self.pos : self.pos + length - 1].decode("utf-8")
        self.pos += length
        return text

    def tensor(self) -> torch.Tensor:
        """Read one variable's shape, dtype and data as a tensor that owns its memory."""
        shape = [self.unpack("I") for _ in range(self.unpack("B"))]
        dtype = DTYPES[self.unpack("B")]
        num_bytes = self.unpack("I")
        count = num_bytes // torch.empty((), dtype=dtype).element_size()
        flat = torch.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos).clone()
        self.pos += num_bytes
        return flat.reshape(shape)


def read_ct2_model(path: Path) -> tuple[str, dict[str, torch.Tensor]]:
    """Return the spec name (e.g. "WhisperSpec") and every variable by name, aliases resolved."""
    cursor = _Cursor(bytearray(Path(path).read_bytes()))
    version = cursor.unpack("I")
    if version not in SUPPORTED_VERSIONS:
        raise ValueError(f"{path}: CTranslate2 binary version {version}, expected one of {SUPPORTED_VERSIONS}")
    spec_name = cursor.string()
    cursor.unpack("I")  # spec revision: the variable names below are what the converters rely on
    variables = {}
    for _ in range(cursor.unpack("I")):
        name = cursor.string()
        variables[name] = cursor.tensor()
    for _ in range(cursor.unpack("I")):
        alias = cursor.string()
        variables[alias] = variables[cursor.string()]
    if cursor.pos != len(cursor.data):
        raise ValueError(f"{path}: {len(cursor.data) - cursor.pos} trailing bytes after the aliases")
    return spec_name, variables
