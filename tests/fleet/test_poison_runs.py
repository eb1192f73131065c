"""Runs a fleet cannot process end FAILED after the bound instead of looping, and NUL
characters in what steps return are stored like any other (issue 11, defect 3)."""

from __future__ import annotations

import signal

import psycopg
import pytest

from tests.adapters.http_peer import running_peer
from tests.cli.test_serve_recovery import wait_for
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


def test_a_run_whose_progress_cannot_be_stored_ends_failed_after_two_tries(fleet: Fleet):
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
            "processing failed 2 times (last: database error P0001); "
            "the run was stopped so it does not loop"
        )
        assert peer.hits["poison"] == 2  # once per processing, never again
        messages = [line["message"] for line in client.logs(execution_id)]
        assert sum(m == "step 'call' started" for m in messages) == 2
        assert messages[-1].startswith("execution failed")
        # The worker lives on and runs what it can store.
        assert worker.poll() is None
        fine = api_agent(client, peer.url("/flaky/fine/0/200"))
        other = client.execute(client.workflow([{"stepKey": "fine", "agentId": fine}]))
        assert client.finished(other, timeout=60)["status"] == "COMPLETED"
        assert peer.hits["fine"] == 1
        assert peer.hits["poison"] == 2


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


def test_runs_handed_back_by_stopping_workers_never_count_as_failures(fleet: Fleet):
    """A worker stopped with SIGTERM hands its runs back: four times in a row (more than the
    bound of 2) and the run still completes."""
    fleet.env["TURBOCAT_HTTP_ALLOWED_HOSTS"] = "127.0.0.1"
    with running_peer() as peer:
        base = fleet.server()
        client = Client(base)
        # The first four calls are held (20 s, under the API agent's 30 s), the fifth not.
        agent = api_agent(client, peer.url("/hold/held?seconds=20&times=4"))
        execution_id = client.execute(client.workflow([{"stepKey": "call", "agentId": agent}]))
        for times in range(1, 5):
            worker = fleet.worker()
            wait_for(lambda times=times: peer.hits["held"] >= times, f"call {times}")
            Fleet.kill(worker, signal.SIGTERM)  # a deploy: stop gracefully, hand the run back
            assert "handed back" in fleet.log_of(worker)
        fleet.worker()
        done = client.finished(execution_id, timeout=60)
        assert done["status"] == "COMPLETED", done
        assert peer.hits["held"] == 5
        messages = [line["message"] for line in client.logs(execution_id)]
        assert sum("resumed after an interruption" in m for m in messages) == 4
        assert not any("processing failed" in m for m in messages)
