"""Runs a fleet cannot process end FAILED after the bound instead of looping, and NUL
characters in what steps return are stored like any other (issue 11, defect 3)."""

from __future__ import annotations

import psycopg
import pytest

from tests.adapters.http_peer import running_peer
from tests.fleet.fleet import Client, Fleet

pytestmark = pytest.mark.slow

REFUSE = """
CREATE FUNCTION refuse_call() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.step_key = 'call' AND NEW.status = 'COMPLETED' THEN
        RAISE EXCEPTION 'refused by the test';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER refuse_call BEFORE INSERT OR UPDATE ON step_runs
    FOR EACH ROW EXECUTE FUNCTION refuse_call();
"""


def api_agent(client: Client, url: str) -> str:
    body = {"name": "remote", "type": "API", "config": {"method": "GET", "url": url}}
    return str(client.post("/agents", body)["id"])


def test_a_run_whose_progress_cannot_be_stored_ends_failed_after_three_tries(fleet: Fleet):
    """Every processing calls the remote API, then fails to store the step's result (a
    trigger refuses it: a real storage error). Before the bound, the reaper queued the run
    again for ever and the API was called again each time."""
    fleet.env["TURBOCAT_HTTP_ALLOWED_HOSTS"] = "127.0.0.1"
    with running_peer() as peer:
        base = fleet.server()
        worker = fleet.worker()
        client = Client(base)
        with psycopg.connect(fleet.env["TURBOCAT_DATABASE_URL"], autocommit=True) as conn:
            conn.execute(REFUSE)  # type: ignore[call-overload]
        agent = api_agent(client, peer.url("/flaky/poison/0/200"))
        workflow = client.workflow([{"stepKey": "call", "agentId": agent}])
        execution_id = client.execute(workflow)
        done = client.finished(execution_id, timeout=120)
        assert done["status"] == "FAILED", done
        assert done["errorMessage"] == (
            "processing failed 3 times (last: database error P0001); "
            "the run was stopped so it does not loop"
        )
        assert peer.hits["poison"] == 3  # once per processing, never again
        messages = [line["message"] for line in client.logs(execution_id)]
        assert sum(m == "step 'call' started" for m in messages) == 3
        assert messages[-1].startswith("execution failed")
        # The worker lives on and runs what it can store.
        assert worker.poll() is None
        fine = api_agent(client, peer.url("/flaky/fine/0/200"))
        other = client.execute(client.workflow([{"stepKey": "fine", "agentId": fine}]))
        assert client.finished(other, timeout=60)["status"] == "COMPLETED"
        assert peer.hits["fine"] == 1
        assert peer.hits["poison"] == 3


def test_a_step_output_holding_nul_characters_completes_on_a_worker(fleet: Fleet):
    """PostgreSQL refuses NUL in text and jsonb: the adapter stores it under an escape."""
    base = fleet.server()
    fleet.worker()
    client = Client(base)
    code = (
        "print('out\\x00put')\n"
        "result = {'text': 'a\\x00b', '\\x00': ['\\ufdd0', '\\ufdd00'], 'n': inputs['n']}"
    )
    agent = client.post(
        "/agents", {"name": "nul", "type": "CODE", "config": {"runtime": "python", "code": code}}
    )["id"]
    workflow = client.workflow([{"stepKey": "nul", "agentId": agent, "inputs": {"n": "\x00"}}])
    execution_id = client.execute(workflow, {"given": "in\x00put"})
    done = client.finished(execution_id, timeout=60)
    assert done["status"] == "COMPLETED", done
    output = done["outputData"]["nul"]
    assert output["result"] == {"text": "a\x00b", "\x00": ["\ufdd0", "\ufdd00"], "n": "\x00"}
    assert "out\x00put" in output["stdout"]
    assert done["inputData"] == {"given": "in\x00put"}
