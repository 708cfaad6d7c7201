"""Which device a network may live on: the one check the panel's jobs, the
commands, the CLI and discovery share."""
from __future__ import annotations

__all__ = ["check_device"]


def check_device(device) -> str:
    """'cpu', or 'cuda[:n]' where a CUDA GPU is there; ValueError saying why not."""
    device = str(device or "cpu").strip()
    if device == "cpu":
        return device
    if not device.startswith("cuda"):
        raise ValueError(f"unknown device {device!r}: use cpu or cuda")
    import torch
    if not torch.cuda.is_available():
        raise ValueError("CUDA was asked for but no CUDA GPU is available here: use the cpu device")
    return device
