"""A newcomer's tour through the client openapi-python-client generates from /openapi.json.

Not a test module: ``test_generated_client.py`` runs it with the Python of a throw-away
environment that holds the generated ``turbocat_client`` (``python generated_client_tour.py
BASE_URL``). It prints what a user would look at; the test reads those lines.
"""

import sys
import time

from turbocat_client import AuthenticatedClient, Client
from turbocat_client.api.agents import create_agent
from turbocat_client.api.auth import login, register
from turbocat_client.api.executions import get_execution, list_execution_logs
from turbocat_client.api.workflows import create_workflow, execute_workflow
from turbocat_client.models import (
    AgentCreateIn,
    ExecutionStatus,
    LoginIn,
    RegisterIn,
    WorkflowIn,
)

base_url = sys.argv[1]
email, password = "ada@example.com", "Correct-Horse-9"

anonymous = Client(base_url=base_url, raise_on_unexpected_status=True)
register.sync(client=anonymous, body=RegisterIn(email=email, password=password))
session = login.sync(client=anonymous, body=LoginIn(email=email, password=password))
client = AuthenticatedClient(
    base_url=base_url, token=session.data.tokens.access_token, raise_on_unexpected_status=True
)
print("logged in:", session.data.user.email)

adults = create_agent.sync(
    client=client,
    body=AgentCreateIn.from_dict(
        {
            "name": "adults",
            "type": "DATA",
            "config": {"operation": "filter", "field": "age", "operator": "gte", "value": 18},
        }
    ),
).data
print("agent:", adults.name, adults.type_.value)

people = [{"name": "Ada", "age": 36}, {"name": "Tim", "age": 9}]
step = {"stepKey": "adults", "agentId": str(adults.id), "inputs": {"data": "{{inputs.people}}"}}
workflow = create_workflow.sync(
    client=client,
    body=WorkflowIn.from_dict(
        {
            "name": "grown-ups",
            "status": "ACTIVE",
            "definition": {"inputs": {"people": people}},  # every run's default inputs
            "steps": [step],
        }
    ),
).data
print("workflow:", workflow.name, len(workflow.steps), "step")

execution = execute_workflow.sync(workflow.id, client=client).data  # no body: the defaults
deadline = time.monotonic() + 60
while execution.status in (ExecutionStatus.PENDING, ExecutionStatus.RUNNING):
    assert time.monotonic() < deadline, f"still {execution.status.value} after 60 s"
    time.sleep(0.05)
    execution = get_execution.sync(execution.id, client=client).data
print("execution:", execution.status.value, execution.output_data.to_dict())

logs = list_execution_logs.sync(execution.id, client=client, page_size=100)
print("logs:", logs.meta.total, "lines")
for line in logs.data:
    print("log:", line.level.value, line.step_key or "-", line.message)
