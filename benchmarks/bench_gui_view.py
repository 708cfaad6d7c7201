"""Network view drawing speed against the DESIGN target (500 edges in < 50 ms).

    QT_QPA_PLATFORM=offscreen PYTHONPATH=. python benchmarks/bench_gui_view.py [--repeats N]

Builds KAN([10, 20, 20, 5]) (700 edges), computes its picture once, then times
(median of N single calls, wall and UI-thread CPU milliseconds):
  repaint fit      viewport().repaint() of a 1600x1000 view fitted to the whole
                   network (far zoom: level of detail draws straight lines);
  repaint detail   the same view at 1:1 zoom (boxes and glyphs, part of the net);
  render all       scene.render of the whole network into a 1920-wide QImage
                   with the level of detail forced to full (the worst case:
                   700 boxes, glyphs and connectors, all painted);
  set_picture      in-place update from a new picture of the same topology
                   (what training does at <= 10 Hz);
  rebuild          set_picture after a topology change.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import median_ms as _median_ms  # noqa: E402

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import torch  # noqa: E402
from PySide6.QtCore import QRectF  # noqa: E402
from PySide6.QtGui import QImage, QPainter  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from kanstudio.picture import network_picture  # noqa: E402
from kanstudio.model.network import KAN  # noqa: E402
from kanstudio.gui.network import network_items  # noqa: E402
from kanstudio.gui.network.network_view import NetworkView  # noqa: E402

TARGET_MS = 50.0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args(argv)
    app = QApplication.instance() or QApplication(sys.argv)
    model = KAN([10, 20, 20, 5], grid=5, seed=0)
    x = torch.rand(1000, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1
    pic = network_picture(model, x)
    pic2 = network_picture(KAN([10, 20, 20, 5], grid=5, seed=1), x)
    n_edges = pic.n_edges()

    view = NetworkView()
    view.resize(1600, 1000)
    view.show()
    t0 = time.perf_counter()
    view.set_picture(pic)
    first_build = (time.perf_counter() - t0) * 1e3
    app.processEvents()

    rows = []
    rows.append(("repaint fit", _median_ms(lambda: view.viewport().repaint(), args.repeats)))
    view.resetTransform()
    view.centerOn(view.edge_scene_pos(1, 10, 10))
    rows.append(("repaint detail", _median_ms(lambda: view.viewport().repaint(), args.repeats)))

    rect = view.scene().itemsBoundingRect()
    img = QImage(1920, int(1920 * rect.height() / rect.width()), QImage.Format.Format_ARGB32_Premultiplied)

    def render_all():
        img.fill(0)
        p = QPainter(img)
        p.setRenderHints(QPainter.RenderHint.Antialiasing)
        view.scene().render(p, QRectF(img.rect()), rect)
        p.end()
    saved, network_items.LOD_LINES = network_items.LOD_LINES, 0.0   # every glyph drawn
    rows.append(("render all", _median_ms(render_all, max(3, args.repeats // 2))))
    network_items.LOD_LINES = saved

    flip = [pic, pic2]
    state = {"k": 0}

    def update():
        state["k"] ^= 1
        view.set_picture(flip[state["k"]])
    rows.append(("set_picture", _median_ms(update, args.repeats)))

    small = network_picture(KAN([10, 20, 5], grid=5, seed=0), x)

    def rebuild():
        view.set_picture(small)
        view.set_picture(pic)
    rows.append(("rebuild", tuple(v / 2 for v in _median_ms(rebuild, max(3, args.repeats // 2)))))

    print(f"network view, {n_edges} edges, first build {first_build:.1f} ms "
          f"(image {img.width()}x{img.height()} for 'render all')")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall times grow with it)")
    print(f"{'what':<16}{'wall ms':>9}{'cpu ms':>9}{'target ms':>11}{'ratio (wall)':>14}{'ratio (cpu)':>13}")
    for name, (wall, cpu) in rows:
        print(f"{name:<16}{wall:>9.1f}{cpu:>9.1f}{TARGET_MS:>11.0f}{wall / TARGET_MS:>14.2f}{cpu / TARGET_MS:>13.2f}")


if __name__ == "__main__":
    main()
