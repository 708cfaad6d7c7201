import json

import pytest
import torch

from kanstudio.model import io
from kanstudio.model.network import KAN
from kanstudio.training.loop import fit


def _model():
    m = KAN([2, [2, 1], 1], grid=4, seed=3)
    x = torch.rand(200, 2, dtype=torch.float64) * 2 - 1
    fit(m, x, x[:, [0]] * x[:, [1]], steps=3)
    m.refine(6, x)
    m.fix_symbolic(0, 1, 0, "sin", (1.1, 0.2, 0.3, 0.4))
    m.set_edge_mask(0, 0, 2, 0.0)
    m.set_names(["a", "b"], ["out"])
    return m, x


def test_save_load_bit_exact(tmp_path):
    m, x = _model()
    p = tmp_path / "m.kan"
    io.save(m, p)
    m2 = io.load(p)
    assert torch.equal(m(x), m2(x))
    assert m2.description() == m.description()
    assert m2.input_names == ["a", "b"]


def test_truncated_and_random_files_are_refused(tmp_path):
    m, _ = _model()
    data = io.to_bytes(m)
    for bad in (data[: len(data) // 2], b"", b"not a model at all", bytes(range(256)) * 10):
        with pytest.raises(ValueError, match="kanstudio model|corrupt|truncated"):
            io.from_bytes(bad)
    with pytest.raises(ValueError, match="not found"):
        io.load(tmp_path / "missing.kan")


def test_newer_schema_and_wrong_shapes_are_refused():
    from safetensors.torch import save as st_save
    m, _ = _model()
    tensors = {k: v.contiguous() for k, v in m.state_dict().items()}
    desc = m.description()
    newer = dict(desc, schema=99)
    with pytest.raises(ValueError, match="newer"):
        io.from_bytes(st_save(tensors, metadata={"kanstudio_model": json.dumps({"description": newer})}))
    tensors["layers.0.coef"] = torch.zeros(1, 1, 1, dtype=torch.float64)
    with pytest.raises(ValueError, match="shape"):
        io.from_bytes(st_save(tensors, metadata={"kanstudio_model": json.dumps({"description": desc})}))


# ---------------------------------------------------------------- hostile files
def _rewrite(data: bytes, change, rehash: bool = True, tensors=None) -> bytes:
    """The file with its description edited by ``change(desc)``; with ``rehash``
    the checksum is recomputed, as an attacker would, so the other checks must hold
    on their own."""
    from safetensors.torch import load as st_load, save as st_save
    n = int.from_bytes(data[:8], "little")
    meta = json.loads(json.loads(data[8:8 + n])["__metadata__"]["kanstudio_model"])
    change(meta["description"])
    t = st_load(data) if tensors is None else tensors
    meta.pop("sha256")
    if rehash:
        meta["sha256"] = io._digest(meta, t)
    return st_save(t, metadata={"kanstudio_model": json.dumps(meta)})


def _refused(data: bytes, *words):
    import time
    from kanstudio.errors import KanstudioError
    t0 = time.perf_counter()
    with pytest.raises(KanstudioError) as info:
        io.from_bytes(data, source="m.kan")
    assert time.perf_counter() - t0 < 2.0      # refused before allocating what it claims
    msg = str(info.value)
    assert "\n" not in msg and all(w in msg for w in words), msg
    return msg


def test_no_flipped_bit_loads_silently():
    from kanstudio.errors import ModelFileError
    m, _ = _model()
    data = io.to_bytes(m)
    n_header = 8 + int.from_bytes(data[:8], "little")
    caught = {"checksum": 0, "other": 0}
    for pos in range(0, len(data), max(1, len(data) // 64)):
        flipped = bytearray(data)
        flipped[pos] ^= 0x10
        with pytest.raises(ModelFileError) as info:
            io.from_bytes(bytes(flipped))
        caught["checksum" if "checksum" in str(info.value) else "other"] += 1
        if pos >= n_header:                  # in the tensors: only the checksum can tell
            assert "checksum" in str(info.value), (pos, info.value)
    assert caught["checksum"] > 10, caught


@pytest.mark.parametrize("field, value, words", [
    ("k", 10 ** 9, ("k = 1000000000", "out of range")),
    ("grid", 10 ** 9, ("grid",)),
    ("width", [10 ** 7, 3, 1], ("100000",)),
    ("layer_grids", [5000, 6], ("layer grid",)),
    ("layer_grids", [400, 400], ("file holds",)),
    ("mult_arity", "x" * 20, ("arity",)),
    ("grid_range", [1, float("nan")], ("grid range",)),
    ("sym_names", [["no_such_function"], []], ("no_such_function", "does not know")),
    ("input_names", [["a"], "b"], ("names",)),
])
def test_a_hostile_description_is_refused_before_anything_is_built(field, value, words):
    m, _ = _model()

    def change(d):
        d[field] = value
    _refused(_rewrite(io.to_bytes(m), change), *words)


def test_symbolic_indices_are_checked():
    from safetensors.torch import load as st_load
    m, _ = _model()
    data = io.to_bytes(m)
    t = st_load(data)
    t["layers.0.sym_fn"][0, 0] = 7          # a function the layer does not list
    _refused(_rewrite(data, lambda d: None, tensors=t), "symbolic function")
