"""Render the application icon from ``resources/icons/caredesk.svg`` into the raster forms
the platforms want: a 256 px PNG (Linux launcher), a multi-size ICO (Windows) and an
ICNS (macOS).  The outputs are committed; run this again only when the SVG changes:

    QT_QPA_PLATFORM=offscreen .venv/bin/python installers/make_icons.py
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SVG = REPO / "resources" / "icons" / "caredesk.svg"
PNG = REPO / "resources" / "icons" / "caredesk-256.png"
ICO = REPO / "installers" / "windows" / "caredesk.ico"
ICNS = REPO / "installers" / "macos" / "caredesk.icns"


def render_png(size: int) -> bytes:
    """The SVG drawn at ``size`` × ``size`` pixels with Qt's SVG renderer, as PNG bytes."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        raise SystemExit(f"cannot read {SVG}")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return bytes(data)


def main() -> int:
    from PIL import Image

    PNG.write_bytes(render_png(256))
    large = Image.open(io.BytesIO(render_png(1024))).convert("RGBA")
    # Each ICO size is rendered from the vector, not shrunk from one bitmap, so 16 px stays crisp.
    ico_sizes = [16, 24, 32, 48, 64, 128, 256]
    frames = [Image.open(io.BytesIO(render_png(s))).convert("RGBA") for s in ico_sizes]
    frames[-1].save(ICO, format="ICO", sizes=[(s, s) for s in ico_sizes], append_images=frames)
    large.save(ICNS, format="ICNS")
    for path in (PNG, ICO, ICNS):
        print(f"wrote {path.relative_to(REPO)} ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
