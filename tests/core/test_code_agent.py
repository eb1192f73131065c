"""The CODE agent with the real interpreters: where the result comes from, how runs fail."""

from __future__ import annotations

import shutil
from dataclasses import replace
from uuid import uuid4

import pytest

from tests.core.builders import step
from tests.core.engine.harness import Harness
from turbocat_adapters.code import SubprocessCodeRunner
from turbocat_core.agents.code_agent import CodeAgent, parse_result
from turbocat_core.agents.contract import AgentExecutors, RunContext
from turbocat_core.agents.data_agent import DataAgent
from turbocat_core.agents.failures import AgentFailure, FailureKind
from turbocat_core.domain.agent import AgentType
from turbocat_core.domain.execution import ExecutionStatus, StepStatus
from turbocat_core.engine.runner import Engine

pytestmark = pytest.mark.slow

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
CTX = RunContext(
    execution_id=uuid4(),  # type: ignore[arg-type]
    workflow_id=uuid4(),  # type: ignore[arg-type]
    user_id=uuid4(),  # type: ignore[arg-type]
    step_key="code",
)
AGENT = CodeAgent(SubprocessCodeRunner())


async def run(runtime, code, inputs=None, **config):
    config = {"runtime": runtime, "code": code, "timeoutSeconds": 2, **config}
    return await AGENT.execute(None, config, inputs or {}, CTX)  # type: ignore[arg-type]


async def test_python_result_variable():
    output = await run(
        "python", "print('working')\nresult = {'sum': sum(inputs['xs'])}", {"xs": [1, 2, 3]}
    )
    assert output["result"] == {"sum": 6}
    assert output["stdout"] == "working\n"  # the marked result line is not shown
    assert output["exitCode"] == 0
    assert output["stderr"] == ""
    assert isinstance(output["durationMs"], int)


async def test_python_last_json_line_when_no_result_variable():
    code = (
        "import json\nprint(json.dumps({'a': 1}))\n"
        "print(json.dumps([inputs['n'] * 2]))\nprint('done')"
    )
    output = await run("python", code, {"n": 21})
    assert output["result"] == [42]


async def test_python_result_wins_over_printed_json_and_sys_exit_zero_keeps_it():
    output = await run("python", "import sys\nprint('[1]')\nresult = 'r'\nsys.exit(0)")
    assert output["result"] == "r"


async def test_python_no_result_is_null():
    assert (await run("python", "print('plain text')"))["result"] is None


async def test_python_exception_fails_with_the_last_stderr_lines():
    with pytest.raises(AgentFailure) as failure:
        await run("python", "x = 1\nraise ValueError('bad input')")
    assert failure.value.kind is FailureKind.ERROR
    message = str(failure.value)
    assert message.startswith("code exited with status 1: ")
    assert "ValueError: bad input" in message
    assert "_turbocat_main" not in message  # the bootstrap's frame is not shown


async def test_python_result_that_is_not_json_fails():
    with pytest.raises(AgentFailure, match="result is not JSON"):
        await run("python", "result = object()")


async def test_python_non_zero_exit_fails():
    with pytest.raises(AgentFailure, match="exited with status 3"):
        await run("python", "import sys\nsys.exit(3)")


@needs_node
async def test_node_last_json_line():
    code = "console.log('hello'); console.log(JSON.stringify({doubled: inputs.n * 2}));"
    output = await run("node", code, {"n": 4})
    assert output["result"] == {"doubled": 8}
    assert output["stdout"] == 'hello\n{"doubled":8}\n'


@needs_node
async def test_node_result_variable_return_and_module_exports():
    assert (await run("node", "const result = inputs.a + 1;", {"a": 1}))["result"] == 2
    assert (await run("node", "await null; return [inputs.a];", {"a": 5}))["result"] == [5]
    assert (await run("node", "module.exports = {x: 1};"))["result"] == {"x": 1}
    assert (await run("node", "exports.y = 2;"))["result"] == {"y": 2}


@needs_node
async def test_node_error_fails_with_stderr():
    with pytest.raises(AgentFailure) as failure:
        await run("node", "throw new Error('kaput')")
    assert "Error: kaput" in str(failure.value)
    with pytest.raises(AgentFailure, match="SyntaxError"):
        await run("node", "let = = 1")


async def test_a_bad_config_is_not_retryable():
    with pytest.raises(AgentFailure) as failure:
        await AGENT.execute(None, {"runtime": "ruby", "code": "1"}, {}, CTX)  # type: ignore[arg-type]
    assert failure.value.retryable is False


def test_parse_result_rules():
    assert parse_result('{"a": 1}\nnot json\n\n') == {"a": 1}
    assert parse_result("nothing here") is None
    assert parse_result('[1]\n\x1e\x1eturbocat-result:{"b": 2}\nlater\n') == {"b": 2}


class CodeHarness(Harness):
    def make_engine(self) -> Engine:
        engine = super().make_engine()
        executors = {AgentType.CODE: CodeAgent(SubprocessCodeRunner()), AgentType.DATA: DataAgent()}
        return replace(engine, executors=AgentExecutors(executors))


async def test_a_workflow_runs_a_code_step_and_a_failing_one_fails_it():
    h = CodeHarness()
    try:
        double = await h.agent(
            "double",
            config={
                "runtime": "python",
                "code": "result = {'v': inputs['v'] * 2}",
                "timeoutSeconds": 2,
            },
        )
        wf = await h.workflow(
            [
                step("first", agent_id=double.id, inputs={"v": "{{inputs.v}}"}),
                step(
                    "second",
                    ["first"],
                    agent_id=double.id,
                    inputs={"v": "{{first.output.result.v}}"},
                ),
            ]
        )
        execution = await h.run(wf, {"v": 5})
        assert execution.status is ExecutionStatus.COMPLETED
        assert execution.output_data is not None
        assert execution.output_data["second"]["result"] == {"v": 20}

        slow = await h.agent(
            "slow", config={"runtime": "python", "code": "while True: pass", "timeoutSeconds": 1}
        )
        wf = await h.workflow([step("spin", agent_id=slow.id)])
        execution = await h.run(wf)
        assert execution.status is ExecutionStatus.FAILED
        runs = await h.runs(execution.id)
        assert runs["spin"].status is StepStatus.FAILED
        assert "timed out after 1 s" in (runs["spin"].error or "")
    finally:
        await h.queue.close()
