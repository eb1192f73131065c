"""What the console's browser tests share: the page's guards (nothing but the server, no
console error) and screenshots checked for being rendered, kept under ``artifacts/console``."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "console"
"""CI keeps this folder (.ci/run); one PNG per page the tests visit."""
MIN_COLOURS = 8
MIN_INKED_SHARE = 0.01


@dataclass
class Guard:
    """Records requests to anywhere but the server (aborted) and console errors (a CSP
    violation is one); ``check()`` fails if either happened."""

    base: str
    elsewhere: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> None:
        def only_the_server(route: Any) -> None:
            if urlsplit(route.request.url).netloc == urlsplit(self.base).netloc:
                route.continue_()
            else:
                self.elsewhere.append(route.request.url)
                route.abort()

        page.route("**/*", only_the_server)
        page.on("console", lambda m: m.type == "error" and self.problems.append(m.text))
        page.on("pageerror", lambda error: self.problems.append(str(error)))

    def check(self) -> None:
        assert self.elsewhere == [], "the page asked for something other than the server"
        assert self.problems == [], "console errors (a CSP violation is one)"


INK_SCRIPT = """async (source) => {
  const image = new Image();
  image.src = source;
  await image.decode();
  const canvas = document.createElement("canvas");
  canvas.width = image.width;
  canvas.height = image.height;
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0);
  const pixels = context.getImageData(0, 0, image.width, image.height).data;
  const colours = new Set();
  let inked = 0;
  for (let i = 0; i < pixels.length; i += 4) {
    const colour = (pixels[i] << 16) | (pixels[i + 1] << 8) | pixels[i + 2];
    colours.add(colour);
    if (pixels[i] !== pixels[0] || pixels[i + 1] !== pixels[1] || pixels[i + 2] !== pixels[2]) {
      inked += 1;
    }
  }
  return [colours.size, inked / (pixels.length / 4)];
}"""


def screenshot(page: Any, name: str) -> Path:
    """The page's screenshot at ``artifacts/console/<name>.png``, checked for being rendered
    (measured in a blank page of the same browser: several colours, and a share of the pixels
    unlike the top-left one)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    png = page.screenshot(path=str(path), full_page=True)
    checker = page.context.new_page()
    try:
        source = "data:image/png;base64," + base64.b64encode(png).decode()
        colours, inked = checker.evaluate(INK_SCRIPT, source)
    finally:
        checker.close()
    assert colours >= MIN_COLOURS, f"{path.name}: {colours} colours, blank?"
    assert inked >= MIN_INKED_SHARE, f"{path.name}: {inked:.3%} of pixels drawn, blank?"
    return path
