"""Render the network view and the edge inspector to PNGs for a visual check.

    QT_QPA_PLATFORM=offscreen PYTHONPATH=. python benchmarks/render_widgets.py [OUT_DIR]

Trains the hello-world KAN [2,5,1] on f = exp(sin(pi x) + y^2), fixes one edge
to sin and prunes one, then writes network_light.png, network_dark.png,
network_mult.png, inspector.png, inspector_fixed.png, inspector_dark.png and
inspector_empty.png into OUT_DIR
(default /tmp/kanstudio_render).  Nothing is written elsewhere.
"""
from __future__ import annotations

import math
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PySide6.QtGui import QColor, QPalette  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from kanstudio.picture import edge_detail, network_picture  # noqa: E402
from kanstudio.model.network import KAN  # noqa: E402
from kanstudio.training.loop import fit  # noqa: E402
from kanstudio.gui.panels.edge_inspector import EdgeInspector  # noqa: E402
from kanstudio.gui.network.network_view import NetworkView  # noqa: E402


def hello_world():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1000, 2, generator=g, dtype=torch.float64) * 2 - 1
    y = torch.exp(torch.sin(math.pi * x[:, [0]]) + x[:, [1]] ** 2)
    model = KAN([2, 5, 1], grid=5, seed=0)
    model.set_names(["x", "y"], ["f"])
    fit(model, x, y, steps=30, lamb=0.002)
    return model, x


def _best_fit(model, x, j):
    """(name, params) for edge (0, 0, j): the library's best, or sin(pi x) by least squares."""
    try:
        from kanstudio.symbolic.edges import suggest
        best = suggest(model, x, 0, 0, j, top_k=1)[0]
        return best.name, best.params
    except Exception as exc:  # the symbolic module may be mid-rewrite: a plain fallback
        print("suggest failed, using sin(pi x):", exc)
        d = edge_detail(model, x, 0, 0, j)
        f = np.sin(math.pi * d.sample_x)
        c, dd = np.polyfit(f, d.sample_y, 1)
        return "sin", (math.pi, 0.0, float(c), float(dd))


def dark_palette() -> QPalette:
    pal = QPalette()
    for role, colour in ((QPalette.ColorRole.Window, "#1f2125"), (QPalette.ColorRole.WindowText, "#e6e6e6"),
                         (QPalette.ColorRole.Base, "#17181b"), (QPalette.ColorRole.Text, "#e6e6e6"),
                         (QPalette.ColorRole.Button, "#2a2d31"), (QPalette.ColorRole.ButtonText, "#e6e6e6"),
                         (QPalette.ColorRole.Highlight, "#3d8fe0"),
                         (QPalette.ColorRole.HighlightedText, "#ffffff")):
        pal.setColor(role, QColor(colour))
    return pal


def main(out_dir: str = "/tmp/kanstudio_render"):
    os.makedirs(out_dir, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv)
    app.setStyle("Fusion")
    model, x = hello_world()
    # Fix the strongest edge of x (the sin) and prune the weakest edge of y.
    from kanstudio.science.attribution import edge_scores
    scores = edge_scores(model, x)[0]
    j_sin, j_dead = int(scores[0].argmax()), int(scores[1].argmin())
    model.fix_symbolic(0, 0, j_sin, *_best_fit(model, x, j_sin))
    model.set_edge_mask(0, 1, j_dead, 0.0)
    j_sq = int(scores[1].argmax())
    pic = network_picture(model, x)

    paths = []
    for name, pal in (("network_light", None), ("network_dark", dark_palette())):
        view = NetworkView()
        if pal is not None:
            view.setPalette(pal)
        view.resize(760, 620)
        view.set_picture(pic)
        view.show()
        view.select_edge(1, 2, 0)
        hovered = view.edge_item(0, 1, int(pic.layers[0].scores[1].argmax()))
        hovered.hovered = True  # what the mouse would do
        hovered.update()
        app.processEvents()
        view.grab().save(os.path.join(out_dir, name + ".png"))
        paths.append(os.path.join(out_dir, name + ".png"))

    mult = KAN([3, [2, 2], 1], grid=5, seed=1)
    mult.set_names(["mass", "velocity", "height"], ["energy"])
    view = NetworkView()
    view.resize(760, 620)
    view.set_picture(network_picture(mult, torch.rand(200, 3, dtype=torch.float64) * 2 - 1))
    view.show()
    app.processEvents()
    view.grab().save(os.path.join(out_dir, "network_mult.png"))
    paths.append(os.path.join(out_dir, "network_mult.png"))

    insp = EdgeInspector()
    insp.resize(520, 640)
    insp.show()
    app.processEvents()
    insp.grab().save(os.path.join(out_dir, "inspector_empty.png"))
    paths.append(os.path.join(out_dir, "inspector_empty.png"))
    detail = edge_detail(model, x, 0, 1, j_sq)
    insp.show_edge(detail, 0, 1, j_sq, names=detail.names)
    try:
        from kanstudio.symbolic.fitting import suggest
        cands = suggest(detail.sample_x, detail.sample_y, top_k=6)
    except ImportError:
        cands = []
    insp.set_candidates(cands)
    insp.candidate_table.selectRow(0)
    app.processEvents()
    insp.grab().save(os.path.join(out_dir, "inspector.png"))
    paths.append(os.path.join(out_dir, "inspector.png"))
    detail = edge_detail(model, x, 0, 0, j_sin)
    insp.show_edge(detail, 0, 0, j_sin, names=detail.names)
    app.processEvents()
    insp.grab().save(os.path.join(out_dir, "inspector_fixed.png"))
    paths.append(os.path.join(out_dir, "inspector_fixed.png"))
    insp.setPalette(dark_palette())
    insp.candidate_table.selectRow(0)
    app.processEvents()
    insp.grab().save(os.path.join(out_dir, "inspector_dark.png"))
    paths.append(os.path.join(out_dir, "inspector_dark.png"))
    print("\n".join(paths))


if __name__ == "__main__":
    main(*sys.argv[1:])
