"""The symbolic oracle through the real service: a server subprocess and the SDK client."""

from __future__ import annotations

import time

from splice.sdk import Client
from splice.sdk.types import Intervention, Status
from splice.server.testing import running_server, wait_serving

from tests.server.oracles.test_symbolic_oracle import NORMAL, PATHOLOGICAL

ORACLES = {
    "symbolic": {"backend": "symbolic", "options": {"workers": 1, "time_limit_s": 2}},
    "symbolic_strict": {"backend": "symbolic", "options": {"workers": 1, "time_limit_s": 0.05}},
}
REFERENCE = "$12 \\times 13 = 156$, so \\boxed{156}."


def ask(
    client: Client, request_id: str, steps: list[str], oracle: str = "symbolic"
) -> Intervention:
    return client.intervene(
        request_id=request_id, client_id="tests", problem="What is 12 times 13?",
        reference_solution=REFERENCE, reference_answer="", rollout_steps=steps, oracle=oracle,
    )


def test_pathological_requests_then_normal_ones_through_the_service() -> None:
    with running_server(oracles=ORACLES, default_oracle="symbolic") as address, \
            Client(address, client_id="tests") as client:
        for n, steps in enumerate(PATHOLOGICAL):
            t0 = time.monotonic()
            result = ask(client, f"patho-{n}", steps)
            assert time.monotonic() - t0 < 5, steps[0][:60]
            assert result.status in (Status.ABSTAINED, Status.FOUND_ERROR, Status.NO_ERROR)
        # a rollout past the hard limit: its worker is killed and replaced
        long_rollout = [f"${k} \\times {k} = {k * k}$." for k in range(1500)]
        result = ask(client, "too-long", long_rollout, oracle="symbolic_strict")
        assert result.status is Status.ABSTAINED
        assert "time limit" in result.explanation
        for n in range(3):
            for oracle in ORACLES:
                result = ask(client, f"normal-{oracle}-{n}", [*NORMAL[0], f"(attempt {n})"],
                             oracle=oracle)
                assert (result.status, result.first_error_step) == NORMAL[1:]
                assert result.replacements[0].content == "We have $12 \\times 13 = 156$."
        good = ask(client, "good", ["$12 \\times 13 = 156$.", "So $\\boxed{156}$."])
        assert good.status is Status.NO_ERROR
        wait_serving(address, timeout=5)
