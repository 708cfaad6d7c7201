import json

import pytest
import torch

from kanstudio.engine import io
from kanstudio.engine.network import KAN
from kanstudio.engine.train import fit


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
