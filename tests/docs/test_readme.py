"""The README's "Try it" and docs/workflow-files.md run as a reader runs them: their shell
blocks pasted in order into one bash (tests/docs/shell.py has the conventions)."""

from __future__ import annotations

import re
import shutil
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from tests.docs.pages import ROOT, Block, read_blocks
from tests.docs.shell import MARKERS, free_port, run_page, runnable, unannounced_curls

README = [b for b in read_blocks(ROOT / "README.md") if b.heading == "Try it"]
WORKFLOW_FILES = read_blocks(ROOT / "docs" / "workflow-files.md")


def registered(page: Path) -> set[str]:
    return set(re.findall(r'auth/register.*?\n.*?"email": "([^"]+)"', page.read_text()))


def test_the_pages_mark_their_blocks_and_curl_fails_on_errors():
    for blocks in (README, WORKFLOW_FILES):
        assert [b.where for b in blocks if b.marker not in (None, *MARKERS)] == []
        assert [line for block in runnable(blocks) for line in unannounced_curls(block)] == []
    assert [b.marker for b in README if b.language == "sh"] == [
        "not run",
        "background",
        None,
        None,
        None,
    ]
    # Trying one page after the other registers nobody twice.
    readme, api = registered(ROOT / "README.md"), registered(ROOT / "docs" / "api.md")
    assert readme and api and not readme & api


def test_try_it_installs_only_what_serving_needs():
    install = next(b.text for b in README if "pip install" in b.text)
    assert "pip install -e .\n" in install and "[dev]" not in install


def on_port(blocks: list[Block], port: int) -> list[Block]:
    """The blocks as a reader on another port runs them (the README says how)."""
    return [replace(b, text=b.text.replace(":3001", f":{port}")) for b in blocks]


def with_examples(cwd: Path) -> Path:
    shutil.copytree(ROOT / "examples", cwd / "examples")
    return cwd


@pytest.mark.slow
def test_the_readme_try_it_runs_top_to_bottom(tmp_path):
    port = free_port()
    printed = run_page(
        on_port(README, port),
        with_examples(tmp_path),
        TURBOCAT_PORT=str(port),
        TURBOCAT_DATA_DIR=str(tmp_path / "data"),
        TURBOCAT_BCRYPT_ROUNDS="4",
        TURBOCAT_SEED_ADMIN_PASSWORD="Seed-Admin-1",
        TURBOCAT_SEED_DEMO_PASSWORD="Seed-Demo-1",
    )
    assert '"email":"you@example.com"' in printed
    assert "COMPLETED: 3 steps" in printed  # examples/embed_pipeline.py
    assert "3 of 3 files completed" in printed
    assert "created ADMIN admin@example.com" in printed


@pytest.mark.slow
def test_workflow_files_runs_top_to_bottom(tmp_path):
    printed = run_page(WORKFLOW_FILES, with_examples(tmp_path))
    assert "refund.yaml: valid (2 steps, 1 agents)" in printed
    assert printed.count('"status":"COMPLETED"') == 3


def test_the_runner_stops_at_the_first_error_status_the_page_does_not_announce(tmp_path):
    """An HTTP server answering 404 to everything: announced, the page goes on; not, it
    stops there."""
    server = HTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)  # 501 to every method
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        announced = Block(1, "t", "sh", f"# expect: 501\ncurl -sS {url}\necho went on\n")
        assert "went on" in run_page([announced], tmp_path)
        for text in (f"curl -fsS {url}\necho went on\n", f"# expect: 404\ncurl -sS {url}\n"):
            with pytest.raises(AssertionError, match="the page failed"):
                run_page([Block(1, "t", "sh", text)], tmp_path)
    finally:
        server.shutdown()
