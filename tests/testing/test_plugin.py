"""The pytest plugin as a user meets it: a test project of their own, run by pytest in a
subprocess where the plugin is loaded by its entry point, as in any project that installs
turbocat."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest

pytest_plugins = ["pytester"]

pytestmark = pytest.mark.slow  # each test starts pytest in a process of its own

INI = """
[pytest]
asyncio_default_fixture_loop_scope = function
filterwarnings = error
"""

USERS_TESTS = """
import asyncio

import pytest

from turbocat_adapters.testing import assert_status, attempts, steps_ran

PIPELINE = {
    "name": "pipeline",
    "steps": [
        {"stepKey": "fetch", "function": "fetch", "retryCount": 2, "retryDelayMs": 1},
        {"stepKey": "load", "function": "load", "dependsOn": ["fetch"],
         "inputs": {"rows": "{{fetch.output.rows}}"}},
    ],
}


@pytest.fixture
def runtime(turbocat):
    @turbocat.function
    def fetch(inputs, ctx):
        return {"rows": [1, 2, 3]}

    @turbocat.function
    async def load(inputs, ctx):
        return {"loaded": len(inputs["rows"])}

    return turbocat


def test_fetch_failing_twice_is_retried(runtime, turbocat_faults):
    turbocat_faults.fail("fetch", times=2)
    execution = runtime.run_sync(PIPELINE)
    assert_status(execution, "COMPLETED")
    assert steps_ran(execution) == ["fetch", "load"]
    assert attempts(execution) == {"fetch": 3, "load": 1}
    assert len(turbocat_faults.calls("fetch")) == 3


@pytest.mark.asyncio
async def test_async_with_the_runtime(runtime, turbocat_faults):
    turbocat_faults.returns("fetch", {"rows": []})
    async with runtime:
        execution = await runtime.run(PIPELINE)
    assert execution.output_data["load"] == {"loaded": 0}


@pytest.mark.asyncio
async def test_a_runtime_left_open_with_a_run_hanging_is_closed_after_the_test(
    runtime, turbocat_faults
):
    turbocat_faults.hang("load")
    await runtime.__aenter__()
    await runtime.start(PIPELINE)
    while not turbocat_faults.calls("load"):
        await asyncio.sleep(0.01)


def test_each_test_has_a_fresh_runtime(turbocat):
    assert "fetch" not in turbocat.functions
    assert not turbocat.is_open


def test_a_failing_status_says_why(runtime, turbocat_faults):
    turbocat_faults.fail("fetch", times=3, message="upstream down")
    assert_status(runtime.run_sync(PIPELINE), "COMPLETED")
"""

SHRINKING = '''
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from turbocat_adapters.testing import assert_status


def chain(length):
    """s0 -> s1 -> ...: each step adds one to what the step before it returned."""
    steps = [{"stepKey": "s0", "function": "add", "inputs": {"n": 0}}]
    for i in range(1, length):
        steps.append({"stepKey": f"s{i}", "function": "add", "dependsOn": [f"s{i - 1}"],
                      "inputs": {"n": "{{s%d.output}}" % (i - 1)}})
    return {"name": f"chain of {length}", "steps": steps}


@pytest.fixture
def runtime(turbocat):
    @turbocat.function
    def add(inputs, ctx):
        if inputs["n"] >= 3:  # the bug: a limit nobody asked for
            raise ValueError(f"{inputs['n']} is too big")
        return inputs["n"] + 1

    return turbocat


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(workflow=st.integers(min_value=1, max_value=15).map(chain))
def test_every_chain_completes(runtime, workflow):
    assert_status(runtime.run_sync(workflow), "COMPLETED")
'''

CLI_LIKE = '''
def turbocat(*args):
    """A module function of the same name as the plugin's fixture (as in a CLI's tests)."""
    return ["turbocat", *args]


def test_the_module_function_is_called():
    assert turbocat("run") == ["turbocat", "run"]
'''


def test_a_users_tests_on_the_public_fixtures_pass_and_fail_as_they_should(
    pytester: pytest.Pytester,
):
    pytester.makeini(INI)
    pytester.makepyfile(test_users=USERS_TESTS, test_cli_like=CLI_LIKE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=5, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*execution * is FAILED, expected COMPLETED*",
            "*step 'fetch' failed after 3 attempts: InjectedFault: upstream down*",
            "*steps ran: fetch*",
        ]
    )


def test_a_broken_workflow_is_caught_and_shrunk_to_the_smallest_example(
    pytester: pytest.Pytester,
):
    pytester.makeini(INI)
    pytester.makepyfile(test_chains=SHRINKING)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    # Reported once shrunk, and only then: the shortest chain that reaches 3.
    assert set(re.findall(r"'chain of (\d+)'", output)) == {"4"}
    assert "step 's3' failed after 1 attempt: ValueError: 3 is too big" in output


def test_the_plugin_is_registered_and_loads_neither_hypothesis_nor_the_runtime():
    check = textwrap.dedent(
        """
        import sys
        from importlib.metadata import entry_points

        (plugin,) = [p for p in entry_points(group="pytest11") if p.name == "turbocat"]
        before = set(sys.modules)
        plugin.load()
        loaded = set(sys.modules) - before
        assert not any(name.split(".")[0] == "hypothesis" for name in loaded), loaded
        assert "turbocat_adapters.embedding" not in loaded, loaded
        print(plugin.value)
        """
    )
    ran = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, timeout=60, check=False
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "turbocat_adapters.testing.plugin"
