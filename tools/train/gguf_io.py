"""Minimal GGUF v3 writer and reader (metadata + F32/F16 tensors) for the training recipe.

Layout (little-endian): magic "GGUF", version u32 = 3, tensor count u64, metadata count u64, metadata
(key string, value type u32, value), tensor infos (name, n_dims u32, ne[] u64 with ne[0] the row length,
ggml type u32, data offset u64 relative to the data section), padding to the alignment, then the tensor
data, each tensor starting at a multiple of the alignment (general.alignment, default 32).
"""
import os
import struct

import numpy as np

# Metadata value types.
UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, FLOAT64 = range(13)
# ggml tensor types used here.
GGML_F32, GGML_F16 = 0, 1

ALIGNMENT = 32
_SCALAR_FMT = {UINT8: "<B", INT8: "<b", UINT16: "<H", INT16: "<h", UINT32: "<I", INT32: "<i",
               FLOAT32: "<f", BOOL: "<?", UINT64: "<Q", INT64: "<q", FLOAT64: "<d"}


def _string(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


class GgufWriter:
    """Collects metadata (in insertion order) and tensors, then writes one file."""

    def __init__(self):
        self._kv = []       # (key, type, encoded value)
        self._tensors = []  # (name, ne, ggml type, bytes)

    def _put(self, key, vtype, payload):
        self._kv = [e for e in self._kv if e[0] != key]
        self._kv.append((key, vtype, payload))

    def add_uint32(self, key, v): self._put(key, UINT32, struct.pack("<I", v))
    def add_int32(self, key, v): self._put(key, INT32, struct.pack("<i", v))
    def add_uint64(self, key, v): self._put(key, UINT64, struct.pack("<Q", v))
    def add_float32(self, key, v): self._put(key, FLOAT32, struct.pack("<f", v))
    def add_bool(self, key, v): self._put(key, BOOL, struct.pack("<?", bool(v)))
    def add_string(self, key, v): self._put(key, STRING, _string(v))

    def add_array(self, key, elem_type, values):
        head = struct.pack("<IQ", elem_type, len(values))
        if elem_type == STRING:
            body = b"".join(_string(v) for v in values)
        else:
            body = np.asarray(values, dtype=np.dtype(_SCALAR_FMT[elem_type])).tobytes()
        self._put(key, ARRAY, head + body)

    def add_tensor(self, name, array, ggml_type=GGML_F32):
        """array: numpy array in row-major order; its last axis is the GGUF row (ne[0])."""
        a = np.ascontiguousarray(array, dtype=np.float16 if ggml_type == GGML_F16 else np.float32)
        ne = list(reversed(a.shape))
        self._tensors.append((name, ne, ggml_type, a.tobytes()))

    def write(self, path):
        out = bytearray()
        out += b"GGUF" + struct.pack("<IQQ", 3, len(self._tensors), len(self._kv))
        for key, vtype, payload in self._kv:
            out += _string(key) + struct.pack("<I", vtype) + payload
        offset = 0
        offsets = []
        for name, ne, ttype, data in self._tensors:
            offsets.append(offset)
            out += _string(name) + struct.pack("<I", len(ne)) + struct.pack(f"<{len(ne)}Q", *ne)
            out += struct.pack("<IQ", ttype, offset)
            offset += (len(data) + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT
        out += b"\0" * (-len(out) % ALIGNMENT)
        for (name, ne, ttype, data), off in zip(self._tensors, offsets):
            out += data + b"\0" * (-len(data) % ALIGNMENT)
        tmp = str(path) + ".tmp"
        with open(tmp, "wb") as f:
            f.write(out)
        os.replace(tmp, path)


def read_gguf(path):
    """Returns (metadata dict, tensors dict name -> numpy array shaped [ne[-1], ..., ne[0]]); F32/F16 only."""
    buf = open(path, "rb").read()
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, buf, pos)
        pos += struct.calcsize(fmt)
        return v[0] if len(v) == 1 else v

    def string():
        nonlocal pos
        n = take("<Q")
        s = buf[pos:pos + n].decode("utf-8")
        pos += n
        return s

    def value(vtype):
        if vtype == STRING:
            return string()
        if vtype == ARRAY:
            et, n = take("<I"), take("<Q")
            return [value(et) for _ in range(n)]
        return take(_SCALAR_FMT[vtype])

    if buf[:4] != b"GGUF":
        raise ValueError(f"{path}: not a GGUF file")
    pos = 4
    version, n_tensors, n_kv = take("<I"), take("<Q"), take("<Q")
    if version != 3:
        raise ValueError(f"{path}: GGUF version {version}, expected 3")
    meta = {}
    for _ in range(n_kv):
        key = string()
        meta[key] = value(take("<I"))
    infos = []
    for _ in range(n_tensors):
        name = string()
        nd = take("<I")
        ne = [take("<Q") for _ in range(nd)]
        infos.append((name, ne, take("<I"), take("<Q")))
    align = meta.get("general.alignment", ALIGNMENT)
    data_start = (pos + align - 1) // align * align
    tensors = {}
    for name, ne, ttype, off in infos:
        if ttype not in (GGML_F32, GGML_F16):
            raise ValueError(f"{path}: tensor {name} has type {ttype}; only F32/F16 are read here")
        dt = np.float32 if ttype == GGML_F32 else np.float16
        count = int(np.prod(ne))
        a = np.frombuffer(buf, dtype=dt, count=count, offset=data_start + off)
        tensors[name] = a.reshape(list(reversed(ne))).astype(np.float32)
    return meta, tensors
