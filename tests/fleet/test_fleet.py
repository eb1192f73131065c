"""The fleet end to end: servers and workers as real processes over PostgreSQL and Redis."""

from __future__ import annotations

import itertools
import signal
import time
from collections import Counter
from datetime import datetime
from typing import Any

import httpx
import psycopg
import pytest

from tests.cli.running import Turbocat
from tests.fleet.fleet import Client, Fleet, Gate, held_by, step, wait

pytestmark = pytest.mark.slow


def chain(client: Client) -> str:
    agent = client.data_agent()
    return client.workflow(
        [
            step("a", agent, 1),
            wait("pause", 300, "a"),
            step("b", agent, 2, "pause"),
            step("c", agent, 3, "b"),
        ]
    )


def test_workers_run_what_servers_queue(fleet: Fleet):
    base = fleet.server()
    fleet.worker()
    fleet.worker()
    client = Client(base)
    workflow = chain(client)
    ids = [client.execute(workflow) for _ in range(8)]
    for execution_id in ids:
        done = client.finished(execution_id)
        assert done["status"] == "COMPLETED", done
        assert done["outputData"] == {
            "a": {"n": 1},
            "pause": {"waitedMs": done["outputData"]["pause"]["waitedMs"]},
            "b": {"n": 2},
            "c": {"n": 3},
        }
        assert done["outputData"]["pause"]["waitedMs"] >= 300
        messages = [line["message"] for line in client.logs(execution_id)]
        assert messages[0].startswith("execution queued")
        assert messages[-1].startswith("execution completed")
        assert sum("completed in" in m for m in messages) == 5  # 4 steps + the execution


def test_a_killed_worker_s_run_finishes_on_another_within_30_seconds(fleet: Fleet):
    base = fleet.server()
    first = fleet.worker()
    client = Client(base)
    agent = client.data_agent()
    workflow = client.workflow(
        [
            step("a", agent, 1),
            wait("w1", 2500, "a"),  # under the 5 s parking threshold: held by its worker
            step("b", agent, 2, "w1"),
            wait("w2", 2500, "b"),
            step("c", agent, 3, "w2"),
        ]
    )
    execution_id = client.execute(workflow)
    client.wait_for(
        execution_id,
        lambda e: any(
            line["stepKey"] == "w1" and line["message"].endswith("started")
            for line in client.logs(execution_id)
        ),
        timeout=30,
    )
    Fleet.kill(first)  # SIGKILL, its whole process group: a lost machine
    killed_at = time.monotonic()
    fleet.worker()
    done = client.finished(execution_id, timeout=45)
    took = time.monotonic() - killed_at
    assert done["status"] == "COMPLETED", done
    assert took < 30, f"finished {took:.1f} s after the kill"
    assert done["outputData"]["a"] == {"n": 1}
    assert done["outputData"]["c"] == {"n": 3}
    assert set(done["outputData"]) == {"a", "w1", "b", "w2", "c"}
    messages = [line["message"] for line in client.logs(execution_id)]
    assert any("resumed" in m for m in messages)
    assert sum(m.startswith("execution completed") for m in messages) == 1
    assert sum(m == "step 'a' started" for m in messages) == 1  # done before: not run again


def test_cancelling_on_one_server_stops_the_run_on_its_worker(fleet: Fleet):
    one, other = fleet.server(), fleet.server()
    fleet.worker()
    client = Client(one)
    agent = client.data_agent()
    workflow = client.workflow([step("a", agent, 1), wait("long", 4000, "a")])
    execution_id = client.execute(workflow)
    client.wait_for(
        execution_id,
        lambda e: any(line["stepKey"] == "long" for line in client.logs(execution_id)),
        timeout=30,
    )
    cancelled = client.on(other).post(f"/executions/{execution_id}/cancel")
    assert cancelled["status"] == "CANCELLED"
    stop = "step 'long' interrupted: the execution was cancelled"

    def interrupted(_: dict[str, object]) -> bool:
        return any(line["message"] == stop for line in client.logs(execution_id))

    client.wait_for(execution_id, interrupted, timeout=5)
    # From the cancel (its completedAt, written by the other server) to the step stopped on
    # the worker (its log line), on the same machine clock: within a second.
    (line,) = [line for line in client.logs(execution_id) if line["message"] == stop]
    took = datetime.fromisoformat(line["createdAt"]) - datetime.fromisoformat(
        cancelled["completedAt"]
    )
    assert took.total_seconds() < 1.0, took
    time.sleep(0.5)
    assert client.execution(execution_id)["status"] == "CANCELLED"


def test_a_long_wait_parks_and_resumes_on_any_worker(fleet: Fleet):
    base = fleet.server()
    fleet.worker(concurrency=1)
    fleet.worker(concurrency=1)
    client = Client(base)
    agent = client.data_agent()
    parked = client.workflow([wait("long", 6000), step("after", agent, 7, "long")])
    quick = chain(client)
    long_id = client.execute(parked)

    def parked_now(_: dict[str, object]) -> bool:
        return any("without holding a worker" in line["message"] for line in client.logs(long_id))

    client.wait_for(long_id, parked_now, timeout=30)
    # Both workers have one place; the parked run holds none, so two more runs go meanwhile.
    quick_ids = [client.execute(quick) for _ in range(2)]
    for execution_id in quick_ids:
        assert client.finished(execution_id, timeout=60)["status"] == "COMPLETED"
    done = client.finished(long_id, timeout=60)
    assert done["status"] == "COMPLETED", done
    assert done["outputData"]["long"]["waitedMs"] >= 6000


def test_concurrency_limit_holds_across_workers(fleet: Fleet):
    base = fleet.server()
    fleet.worker()
    fleet.worker()
    client = Client(base)
    agent = client.data_agent()
    workflow = client.workflow([step("a", agent, 1), wait("hold", 700, "a")], concurrencyLimit=1)
    ids = [client.execute(workflow) for _ in range(4)]
    finished = [client.finished(execution_id, timeout=60) for execution_id in ids]
    assert [e["status"] for e in finished] == ["COMPLETED"] * 4
    spans = sorted((e["startedAt"], e["completedAt"]) for e in finished)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end, spans  # never two at once
    assert [e["startedAt"] for e in finished] == sorted(e["startedAt"] for e in finished)


def test_a_schedule_fires_once_per_tick_with_several_workers(fleet: Fleet):
    base = fleet.server()
    fleet.worker()
    fleet.worker()
    client = Client(base)
    agent = client.data_agent()
    workflow = client.workflow(
        [step("a", agent, 1)], scheduleEnabled=True, scheduleCron="* * * * * *"
    )
    created = client.post("/deployments", {"name": "every second", "workflowId": workflow})
    deployment = created["deployment"]
    client.post(f"/deployments/{deployment['id']}/start")
    deadline = time.monotonic() + 60
    while len({run["triggerData"]["scheduledFor"] for run in fired(client, workflow)}) < 3:
        assert time.monotonic() < deadline, "fewer than 3 ticks fired in 60 s"
        time.sleep(0.2)
    client.post(f"/deployments/{deployment['id']}/stop")
    time.sleep(1.5)  # a second worker firing a tick twice would have done so by now
    runs = fired(client, workflow)
    ticks = Counter(run["triggerData"]["scheduledFor"] for run in runs)
    assert len(ticks) >= 3, ticks
    assert set(ticks.values()) == {1}, ticks  # no tick fired twice
    assert all(run["triggerType"] == "SCHEDULED" for run in runs)


def fired(client: Client, workflow: str) -> list[dict[str, Any]]:
    return list(client.get(f"/workflows/{workflow}/executions?pageSize=100"))


def test_readiness_reports_redis_and_the_queue(fleet: Fleet):
    base = fleet.server()
    root = base.removesuffix("/api/v1")
    fleet.worker()
    fleet.worker()
    ready = httpx.get(f"{root}/health/ready", timeout=10)
    assert ready.status_code == 200, ready.text
    checks = ready.json()["checks"]
    assert checks["redis"]["status"] == "ok" and checks["redis"]["latencyMs"] >= 0
    queue = checks["queue"]
    assert queue["kind"] == "rq" and queue["status"] == "ok"
    assert queue["workers"] == 2
    assert queue["depth"] == 0 and queue["failedJobs"] == 0


def test_a_stopping_worker_hands_its_runs_back_at_once(fleet: Fleet):
    fleet.env["TURBOCAT_HTTP_ALLOWED_HOSTS"] = "127.0.0.1"  # the API step's gate below
    with Gate() as gate:
        base = fleet.server()
        workers = [fleet.worker(), fleet.worker()]
        client = Client(base)
        agent = client.data_agent()
        api = {"url": gate.url, "timeoutMs": 300_000}
        held = client.post("/agents", {"name": "held", "type": "API", "config": api})["id"]
        workflow = client.workflow(
            [
                step("a", agent, 1),
                {"stepKey": "held", "agentId": held, "dependsOn": ["a"]},
                step("b", agent, 2, "held"),
            ]
        )
        execution_id = client.execute(workflow)
        gate.wait_for(1)  # the API step is in flight (the gate holds it) on one worker
        (first,) = [w for w in workers if held_by(fleet.lease_holder(execution_id), w)]
        Fleet.kill(first, signal.SIGTERM)  # a deploy: stop gracefully; returns once it exited
        assert "handed back" in fleet.log_of(first)
        # Handed back, not left to expire: the lease went with the worker, so no one waits
        # the 10 s of a lapsing lease (it is queued again, or the other worker has it).
        assert not held_by(fleet.lease_holder(execution_id), first)
        gate.wait_for(2)  # the other worker resumed the run: the step runs again
        done = client.finished(execution_id, timeout=60)
    assert done["status"] == "COMPLETED", done
    assert done["outputData"]["b"] == {"n": 2}
    messages = [line["message"] for line in client.logs(execution_id)]
    assert any("resumed" in m for m in messages), messages


@pytest.mark.parametrize(
    ("sig", "point"),
    [
        (signal.SIGINT, "turbocat worker:"),  # starting: the runtime opens, RQ not yet there
        (signal.SIGINT, " ready: "),
        (signal.SIGTERM, " ready: "),
    ],
)
def test_a_worker_stopped_as_it_starts_ends_in_one_line(fleet: Fleet, sig: int, point: str):
    worker = Turbocat("worker", env=fleet.env)
    shown = worker.wait_for(point)
    worker.interrupt(sig)
    code = worker.finish()
    everything = worker.stderr + worker.stdout
    assert "Traceback" not in everything and "Task was destroyed" not in everything, everything
    lines = worker.stderr_after(shown)
    if code == 130:  # before the worker's runtime began
        assert lines == ["interrupted"]
    else:  # a stop like any other: the ready line, if not shown yet, then the end
        assert code == 0, everything
        assert [line.split()[2] for line in lines] in (["stopped"], ["ready:", "stopped"])


def test_a_worker_prunes_old_runs_once_a_day(fleet: Fleet):
    base = fleet.server()
    client = Client(base)
    workflow = client.workflow([step("a", client.data_agent(), 1)])
    old, recent = client.execute(workflow), client.execute(workflow)  # no worker yet: PENDING
    for execution_id in (old, recent):
        client.post(f"/executions/{execution_id}/cancel")
    with psycopg.connect(fleet.env["TURBOCAT_DATABASE_URL"], autocommit=True) as conn:
        conn.execute(
            "UPDATE executions SET completed_at = now() - interval '40 days' WHERE id = %s",
            (old,),
        )
    fleet.worker()  # its first round of the day prunes what is past TURBOCAT_RETENTION_DAYS
    deadline = time.monotonic() + 30
    while client.http.get(f"/executions/{old}").status_code != 404:
        assert time.monotonic() < deadline, "the old run was not pruned"
        time.sleep(0.2)
    assert client.execution(recent)["status"] == "CANCELLED"


def test_code_and_child_workflow_agents_run_on_workers(fleet: Fleet):
    base = fleet.server()
    fleet.worker()
    client = Client(base)
    double = client.post(
        "/agents",
        {
            "name": "double",
            "type": "CODE",
            "config": {"runtime": "python", "code": "result = inputs['n'] * 2"},
        },
    )["id"]
    child = client.workflow(
        [{"stepKey": "twice", "agentId": double, "inputs": {"n": "{{inputs.n}}"}}]
    )
    call = client.post(
        "/agents", {"name": "call", "type": "WORKFLOW", "config": {"workflowId": child}}
    )["id"]
    parent = client.workflow([{"stepKey": "sub", "agentId": call, "inputs": {"n": 21}}])
    execution_id = client.execute(parent)
    done = client.finished(execution_id, timeout=60)
    assert done["status"] == "COMPLETED", done
    assert done["outputData"]["sub"]["twice"]["result"] == 42
    children = client.get(f"/executions/{execution_id}/children")
    assert [c["status"] for c in children] == ["COMPLETED"]
    assert children[0]["parentExecutionId"] == execution_id
