"""docs/api.md run as a reader runs it: its shell blocks pasted in order into one bash, against
the server its first block starts (tests/docs/shell.py has the conventions)."""

from __future__ import annotations

import re

import pytest

from tests.docs.pages import ROOT, read_blocks
from tests.docs.shell import EXPECT, MARKERS, free_port, run_page, runnable, unannounced_curls

PAGE = ROOT / "docs" / "api.md"
# The page's own walk-through; a later section on generated clients runs in its own test.
BLOCKS = [b for b in read_blocks(PAGE) if "generated client" not in b.heading.lower()]


def test_every_curl_of_the_page_fails_on_an_error_unless_the_page_announces_it():
    assert [b.where for b in BLOCKS if b.marker not in (None, *MARKERS)] == []
    blocks = runnable(BLOCKS)
    assert len(blocks) >= 20
    assert [line for block in blocks for line in unannounced_curls(block)] == []
    announced = [line for b in blocks for line in b.text.splitlines() if EXPECT.match(line)]
    assert len(announced) >= 10


@pytest.mark.slow
def test_the_page_runs_top_to_bottom_against_a_fresh_server(tmp_path):
    port = free_port()
    printed = run_page(
        BLOCKS,
        tmp_path,
        TURBOCAT_PORT=str(port),  # as the page tells a reader on another port
        TURBOCAT_DATA_DIR=str(tmp_path / "data"),
        TURBOCAT_BCRYPT_ROUNDS="4",
    )
    # The reset mail links to where the server listens, and says what to do without a page.
    log = (tmp_path / "turbocat.log").read_text()
    assert re.search(rf"http://127\.0\.0\.1:{port}/reset-password\?token=[\w-]+\n", log), log
    assert "POST /api/v1/auth/reset-password" in log
    assert "+00:00" not in printed, "times are written with Z"
    assert '"count":1' in printed.replace(" ", "")
