"""The local engine runs a handler in a real worker process and returns what it answered."""

from __future__ import annotations

import asyncio
import json
import os

import pytest
from engine_helpers import await_until

ECHO = """
from hub import hub_handler

@hub_handler
def inference_handler(inputs, context):
    return inputs
"""


async def test_echo_round_trip(engine, make_spec):
    spec = make_spec(ECHO)
    await engine.deploy(spec)
    result = await engine.invoke(spec.version_id, b'{"text": "hello", "n": 3}', "inv-1")
    assert result.status == "ok", result
    assert json.loads(result.output_json) == {"text": "hello", "n": 3}
    assert result.error_type is None and result.error_message is None


@pytest.mark.parametrize(
    "value",
    ["a string", ["a", "list", 1], {"a": {"nested": [1, 2]}}, 42, 3.5, None, True, "naïve ✓"],
)
async def test_inputs_of_every_json_kind_reach_the_handler_decoded(engine, make_spec, value):
    spec = make_spec(
        """
        from hub import hub_handler

        @hub_handler
        def inference_handler(inputs, context):
            return {"type": type(inputs).__name__, "value": inputs}
        """
    )
    await engine.deploy(spec)
    result = await engine.invoke(spec.version_id, json.dumps(value).encode(), "inv")
    assert result.status == "ok", result
    assert json.loads(result.output_json) == {"type": type(value).__name__, "value": value}


async def test_tuples_in_the_output_become_lists(engine, make_spec):
    spec = make_spec(
        """
        from hub import hub_handler

        @hub_handler
        def inference_handler(inputs, context):
            return [[("Positive", 93.58), ("Neutral", 6.27)]]
        """
    )
    await engine.deploy(spec)
    result = await engine.invoke(spec.version_id, b'"great"', "inv")
    assert json.loads(result.output_json) == [[["Positive", 93.58], ["Neutral", 6.27]]]


async def test_module_level_code_runs_once_per_worker(engine, make_spec, logs):
    spec = make_spec(
        """
        import os
        from hub import hub_handler

        print(f"loaded in {os.getpid()}")

        @hub_handler
        def inference_handler(inputs, context):
            return os.getpid()
        """
    )
    await engine.deploy(spec)
    pids = {
        json.loads((await engine.invoke(spec.version_id, b"1", f"i{n}")).output_json)
        for n in range(5)
    }
    assert len(pids) == 1
    assert logs.of(None, "stdout") == [f"loaded in {pids.pop()}"]


async def test_sibling_modules_import_and_cwd_is_src_and_model_dir_is_set(engine, make_spec):
    spec = make_spec(
        """
        import os
        from hub import hub_handler
        from utils import shout

        @hub_handler
        def inference_handler(inputs, context):
            return {
                "shout": shout(inputs),
                "cwd": os.getcwd(),
                "model_dir": os.getenv("MODEL_DIR"),
                "context": [context.invocation_id, context.api, context.model_dir],
            }
        """,
        files={"utils.py": "def shout(text):\n    return text.upper() + '!'\n"},
    )
    await engine.deploy(spec)
    result = await engine.invoke(spec.version_id, b'"hi"', "inv-42")
    out = json.loads(result.output_json)
    assert out["shout"] == "HI!"
    assert os.path.samefile(out["cwd"], spec.src_dir)
    assert out["model_dir"] == str(spec.model_dir)
    assert out["context"] == ["inv-42", spec.api, str(spec.model_dir)]


async def test_print_output_reaches_on_log_with_the_invocation_id(engine, make_spec, logs):
    spec = make_spec(
        """
        import sys
        from hub import hub_handler

        print("loading the model")

        @hub_handler
        def inference_handler(inputs, context):
            print("got", inputs)
            print("a warning", file=sys.stderr)
            sys.stdout.write("no newline at the end")
            return "done"
        """
    )
    await engine.deploy(spec)
    await engine.invoke(spec.version_id, b'"x"', "first")
    await engine.invoke(spec.version_id, b'"y"', "second")
    assert logs.of(None, "stdout") == ["loading the model"]
    assert logs.of("first", "stdout") == ["got x", "no newline at the end"]
    assert logs.of("first", "stderr") == ["a warning"]
    assert logs.of("second", "stdout") == ["got y", "no newline at the end"]
    assert {v for v, *_ in logs.lines} == {spec.version_id}


async def test_print_output_reaches_on_log_while_the_handler_still_runs(engine, make_spec, logs):
    spec = make_spec(
        """
        import time
        from hub import hub_handler

        @hub_handler
        def inference_handler(inputs, context):
            print("step 1 of 2")
            time.sleep(1.0)
            return "done"
        """
    )
    await engine.deploy(spec)
    task = asyncio.ensure_future(engine.invoke(spec.version_id, b"null", "live"))
    await await_until(lambda: logs.of("live", "stdout") == ["step 1 of 2"])
    assert not task.done()  # the line came while the handler was still running
    assert (await task).status == "ok"


async def test_output_written_to_file_descriptors_reaches_on_log_with_the_invocation_id(
    engine, make_spec, logs
):
    spec = make_spec(
        """
        import os
        from hub import hub_handler

        os.write(2, b"native library loaded\\n")

        @hub_handler
        def inference_handler(inputs, context):
            os.write(1, f"raw stdout {inputs}\\n".encode())
            os.system(f"echo from a subprocess {inputs} 1>&2")
            return "ok"
        """
    )
    await engine.deploy(spec)
    for n in range(5):
        await engine.invoke(spec.version_id, str(n).encode(), f"inv{n}")
    for n in range(5):
        assert logs.of(f"inv{n}", "stdout") == [f"raw stdout {n}"]
        assert logs.of(f"inv{n}", "stderr") == [f"from a subprocess {n}"]
    assert "native library loaded" in logs.of(None, "stderr")


async def test_handler_that_raises_gives_error_with_message_and_traceback_in_logs(
    engine, make_spec, logs
):
    spec = make_spec(
        """
        from hub import hub_handler

        @hub_handler
        def inference_handler(inputs, context):
            raise ValueError(f"cannot handle {inputs!r}")
        """
    )
    await engine.deploy(spec)
    result = await engine.invoke(spec.version_id, b'"this"', "inv")
    assert result.status == "error"
    assert result.error_type == "ValueError"
    assert result.error_message == "cannot handle 'this'"
    stderr = logs.of("inv", "stderr")
    assert stderr[0] == "Traceback (most recent call last):"
    assert stderr[-1] == "ValueError: cannot handle 'this'"
    assert not any("_worker.py" in line for line in stderr)
    # The worker survives its handler's exceptions.
    assert engine.status(spec.version_id)["workers"] == 1


@pytest.mark.parametrize(
    "expression, named",
    [("{1, 2}", "set"), ("object()", "object"), ("float('nan')", "NaN")],
)
async def test_output_json_cannot_carry_is_an_error_naming_it(engine, make_spec, expression, named):
    spec = make_spec(
        f"""
        from hub import hub_handler

        @hub_handler
        def inference_handler(inputs, context):
            return {{"result": {expression}}}
        """
    )
    await engine.deploy(spec)
    result = await engine.invoke(spec.version_id, b"null", "inv")
    assert result.status == "error"
    assert result.error_type == "OutputNotJSON"
    assert named in result.error_message


async def test_body_that_is_not_json_is_reported_as_invalid_json(engine, make_spec):
    spec = make_spec(ECHO)
    await engine.deploy(spec)
    result = await engine.invoke(spec.version_id, b"{not json", "inv")
    assert result.status == "error"
    assert result.error_type == "InvalidJSON"
    ok = await engine.invoke(spec.version_id, b"[1]", "inv2")
    assert ok.status == "ok"


async def test_bodies_in_every_encoding_json_takes_reach_the_handler(engine, make_spec):
    # The worker's fast path reads plain UTF-8 bodies; the rest go the full json.loads way.
    spec = make_spec(ECHO)
    await engine.deploy(spec)
    value = {"text": "naïve ✓", "n": [1, 2.5, None, True]}
    text = json.dumps(value, ensure_ascii=False)
    bodies = [
        text.encode(),
        f"  {text}\n".encode(),
        b"\xef\xbb\xbf" + text.encode(),  # UTF-8 with a byte order mark
        text.encode("utf-16"),
        text.encode("utf-32-le"),
        json.dumps(value).encode(),  # \\u escapes
    ]
    for number, body in enumerate(bodies):
        result = await engine.invoke(spec.version_id, body, f"inv-{number}")
        assert result.status == "ok", (body, result)
        assert json.loads(result.output_json) == value
    for number, bad in enumerate([b'{"a": 1} x', b"[1,", b"\xff\xfe\xfd", b" "]):
        result = await engine.invoke(spec.version_id, bad, f"bad-{number}")
        assert result.error_type == "InvalidJSON", (bad, result)
        assert result.error_message.startswith("The request body is not valid JSON: ")


async def test_a_worker_encodes_again_after_an_output_that_contains_itself(engine, make_spec):
    spec = make_spec(
        """
        from hub import hub_handler

        KEPT = {"items": []}  # the same object every time: a mark left of it would show

        @hub_handler
        def inference_handler(inputs, context):
            KEPT["items"] = [KEPT] if inputs == "loop" else [inputs]
            return KEPT
        """
    )
    await engine.deploy(spec)
    looped = await engine.invoke(spec.version_id, b'"loop"', "inv-loop")
    assert looped.error_type == "OutputNotJSON"
    assert "contains itself" in looped.error_message
    # The same worker answers the next calls (its encoder kept no mark of the failed one).
    for number in range(3):
        result = await engine.invoke(spec.version_id, b"[1]", f"inv-{number}")
        assert result.status == "ok", result
        assert json.loads(result.output_json) == {"items": [[1]]}
    assert engine.status(spec.version_id)["workers"] == 1


async def test_numpy_values_become_plain_json(engine, make_spec):
    pytest.importorskip("numpy")
    spec = make_spec(
        """
        import numpy as np
        from hub import hub_handler

        @hub_handler
        def inference_handler(inputs, context):
            return {"array": np.arange(3), "scalar": np.int64(7), "f": np.float32(0.5)}
        """
    )
    await engine.deploy(spec)
    result = await engine.invoke(spec.version_id, b"null", "inv")
    assert result.status == "ok", result
    assert json.loads(result.output_json) == {"array": [0, 1, 2], "scalar": 7, "f": 0.5}


async def test_the_platform_environment_secrets_do_not_reach_the_worker(
    engine, make_spec, monkeypatch
):
    monkeypatch.setenv("PLATFORM_ADMIN_TOKEN", "s3cret")
    monkeypatch.setenv("LANG_TEST_VISIBLE", "yes")
    spec = make_spec(
        """
        import os
        from hub import hub_handler

        @hub_handler
        def inference_handler(inputs, context):
            return [os.getenv("PLATFORM_ADMIN_TOKEN"), os.getenv("LANG_TEST_VISIBLE")]
        """
    )
    await engine.deploy(spec)
    result = await engine.invoke(spec.version_id, b"null", "inv")
    assert json.loads(result.output_json) == [None, "yes"]


async def test_unknown_version_raises(engine):
    from jupyter_hub_api.platform.engines import UnknownVersionError

    with pytest.raises(UnknownVersionError):
        await engine.invoke("nope:123", b"1", "inv")
    with pytest.raises(UnknownVersionError):
        engine.status("nope:123")


async def test_handlers_with_one_argument_or_async_are_called_too(engine, make_spec):
    one = make_spec(
        """
        from hub import hub_handler

        @hub_handler
        def inference_handler(inputs):
            return ["one", inputs]
        """
    )
    coroutine = make_spec(
        """
        import asyncio
        from hub import hub_handler

        @hub_handler
        async def inference_handler(inputs, context):
            await asyncio.sleep(0)
            return ["async", inputs]
        """
    )
    for spec, word in ((one, "one"), (coroutine, "async")):
        await engine.deploy(spec)
        for n in range(2):
            result = await engine.invoke(spec.version_id, str(n).encode(), "inv")
            assert json.loads(result.output_json) == [word, n]


async def test_large_bodies_and_outputs_round_trip(engine, make_spec):
    spec = make_spec(ECHO)
    await engine.deploy(spec)
    big = {"image": "A" * 5_000_000, "values": list(range(100_000))}
    result = await engine.invoke(spec.version_id, json.dumps(big).encode(), "big")
    assert result.status == "ok"
    assert json.loads(result.output_json) == big
