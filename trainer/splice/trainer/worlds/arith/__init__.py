"""The arith world: multi-step arithmetic word problems, one checkable operation per step.

Problems (:class:`ProblemSpec`) are a start quantity and a chain of operations, generated with
a controllable length and step-type mix (:mod:`.generate`), told in templated sentences that
parse back (:mod:`.text`), solved in the policy's style or an unseen one (:mod:`.solutions`),
replayed by a world-aware checker (:mod:`.check`), and corrupted by planted errors
(:mod:`.errors`). Plain Python: the oracle service imports it without torch.
"""

from splice.trainer.worlds.arith.check import (
    Finding,
    Verdict,
    check,
    normalize_answer,
    read_step,
    split_steps,
)
from splice.trainer.worlds.arith.errors import (
    PLANTABLE,
    ErrorModel,
    Planted,
    miscopy,
    plant_error,
    plant_self_corrected,
    wrong_result,
)
from splice.trainer.worlds.arith.generate import (
    HARD,
    HARD_MIX,
    TRAIN,
    TRAIN_MIX,
    WorldConfig,
    generate,
    generate_many,
)
from splice.trainer.worlds.arith.solutions import claim_line, policy_solution, unseen_solution
from splice.trainer.worlds.arith.spec import Claim, Op, OpKind, ProblemSpec, StepType, step_type
from splice.trainer.worlds.arith.text import parse_problem, render_problem

WORLD_SPEC_OPTION = "world_spec"
"""The request option that carries a problem's spec as JSON (see :mod:`.requests`)."""

__all__ = [
    "HARD", "HARD_MIX", "PLANTABLE", "TRAIN", "TRAIN_MIX", "WORLD_SPEC_OPTION", "Claim",
    "ErrorModel", "Finding", "Op", "OpKind", "Planted", "ProblemSpec", "StepType", "Verdict",
    "WorldConfig", "check", "claim_line", "generate", "generate_many", "miscopy",
    "normalize_answer", "parse_problem", "plant_error", "plant_self_corrected",
    "policy_solution", "read_step", "render_problem", "split_steps", "step_type",
    "unseen_solution", "wrong_result",
]
