"""The trainer's GPU paths on one CUDA device: LoRA and full SFT, GRPO, the rollout engine.

Skipped where no CUDA GPU is visible. Self-contained (its own tiny-model fixture), so that a
bare GPU machine runs it with ``pytest --noconftest tests/trainer/test_gpu.py``
(``scripts/gpu_check.sh``). ``SPLICE_TEST_DEVICE=cpu`` (with no GPU visible) is a dry run of the
same bodies on the CPU, in bf16 there too; only the checks that need CUDA itself are left out.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import torch
from splice.trainer import grpo, sft
from splice.trainer.engine import GenerationRequest, decode
from splice.trainer.grpo import GRPOStageConfig, step_metrics, train_grpo
from splice.trainer.hf_engine import TransformersEngine
from splice.trainer.records import Problem, SamplingParams, read_jsonl
from splice.trainer.rewards import RewardWorker
from splice.trainer.sft import SFTStageConfig, build_sft_trainer, train_patch
from splice.trainer.tiny import build_tiny, toy_patch_examples, toy_problems

from tests.trainer import engine_contract


def _device() -> str:
    """"cuda" where a GPU is visible, "cpu" for a dry run, "" (skip) otherwise."""
    forced = os.environ.get("SPLICE_TEST_DEVICE", "")
    if forced not in ("", "cpu"):
        raise ValueError(f"SPLICE_TEST_DEVICE={forced!r}: only 'cpu' (a dry run) is meant")
    if forced and torch.cuda.is_available():
        # the trainer picks the GPU whenever one is visible: a dry run must hide it
        raise RuntimeError("SPLICE_TEST_DEVICE=cpu needs CUDA_VISIBLE_DEVICES='' on a GPU host")
    return forced or ("cuda" if torch.cuda.is_available() else "")


DEVICE = _device()
ON_CUDA = DEVICE == "cuda"
# on a GPU the stages' default (None) must itself choose bf16; a CPU dry run asks for it
BF16: bool | None = None if ON_CUDA else True

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not DEVICE, reason="needs a CUDA GPU (torch.cuda.is_available() is "
                                          "False; SPLICE_TEST_DEVICE=cpu dry-runs on the CPU)"),
]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny pretrained Qwen2 model of the trainer tests (seed 0), built on the CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models gain nothing from intra-op threads
    try:
        return build_tiny(tmp_path_factory.mktemp("tiny") / "model", seed=0)
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tokenizer(tiny_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_dir)


def _problems(count: int, seed: int) -> list[Problem]:
    return [Problem(p.problem_id, p.problem, p.solution(), p.answer)
            for p in toy_problems(count, seed=seed)]


def _params(model: Any) -> dict[str, torch.Tensor]:
    return {n: p.detach().to("cpu", torch.float32, copy=True)
            for n, p in model.named_parameters()}


class Recorder:
    """Wraps a stage's trainer builder: keeps the trainer, its parameters before and after
    ``train()``, and the (dtype, device) of the last MLP's activations while training."""

    def __init__(self, build: Callable[..., Any]) -> None:
        self.build = build
        self.trainer: Any = None
        self.before: dict[str, torch.Tensor] = {}
        self.after: dict[str, torch.Tensor] = {}
        self.devices_after: set[str] = set()
        self.activations: set[tuple[torch.dtype, str]] = set()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        trainer = self.build(*args, **kwargs)
        self.trainer = trainer
        self.before = _params(trainer.model)
        # TRL multiplies by lm_head.weight itself (fused), so watch the last MLP's projection
        *_, projection = (m for n, m in trainer.model.named_modules()
                          if n.endswith("mlp.down_proj"))
        projection.register_forward_hook(
            lambda _m, _i, out: self.activations.add((out.dtype, out.device.type)))
        train = trainer.train

        def train_and_record(*a: Any, **k: Any) -> Any:
            result = train(*a, **k)
            self.after = _params(trainer.model)
            self.devices_after = {p.device.type for p in trainer.model.parameters()}
            return result

        trainer.train = train_and_record
        return trainer


def _assert_ran_in_bf16_on_device(recorder: Recorder) -> None:
    """Last in each test: the other checks still report when this one fails."""
    args = recorder.trainer.args
    assert args.bf16 is True and args.use_cpu is not ON_CUDA
    assert recorder.trainer.accelerator.mixed_precision == "bf16"
    assert recorder.devices_after == {DEVICE}
    # the activations: computed in bf16 (autocast) on the device
    assert recorder.activations and recorder.activations <= {(torch.bfloat16, DEVICE)}, \
        recorder.activations
    assert args.device.type == DEVICE


def _finite_losses(log_history: list[dict[str, Any]]) -> list[float]:
    losses = [row["loss"] for row in log_history if "loss" in row]
    assert losses and all(math.isfinite(x) for x in losses), losses
    grads = [row["grad_norm"] for row in log_history if "grad_norm" in row]
    assert all(math.isfinite(x) for x in grads), grads
    return losses


@pytest.fixture
def reward_worker() -> Iterator[RewardWorker]:
    with RewardWorker(timeout_s=5) as worker:
        yield worker


def test_cuda_device_supports_bf16() -> None:
    if not ON_CUDA:
        pytest.skip("dry run: no CUDA device to ask")
    assert torch.cuda.is_bf16_supported()
    assert sft._bf16(None) is True  # the SFT stage's default on this machine


def test_lora_patch_sft_in_bf16(tiny_dir: Path, tokenizer: Any, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    """``train_patch`` with LoRA: bf16 on the device, finite losses, only the adapters move,
    the adapter and the merged model are saved."""
    recorder = Recorder(sft.build_sft_trainer)
    monkeypatch.setattr(sft, "build_sft_trainer", recorder)
    config = SFTStageConfig(use_lora=True, lora_r=8, lora_alpha=16, max_steps=3,
                            effective_batch_size=4, per_device_train_batch_size=4,
                            learning_rate=1e-3, warmup_ratio=0.0, bf16=BF16)
    target = train_patch(tiny_dir, toy_patch_examples(tokenizer, 8), config, tmp_path)

    log = recorder.trainer.state.log_history
    assert len(_finite_losses(log)) == 3 and recorder.trainer.state.global_step == 3
    lora = [n for n in recorder.before if "lora_" in n]
    assert lora and all(recorder.before[n].isfinite().all() for n in lora)
    assert all(recorder.after[n].isfinite().all() for n in lora)
    # lora_B starts at zero: after training the adapters are non-zero, the base is untouched
    assert all(not recorder.before[n].any() for n in lora if "lora_B" in n)
    assert any(recorder.after[n].abs().sum() > 0 for n in lora if "lora_B" in n)
    assert any(not torch.equal(recorder.before[n], recorder.after[n]) for n in lora)
    base = [n for n in recorder.before if "lora_" not in n]
    assert base and all(torch.equal(recorder.before[n], recorder.after[n]) for n in base)

    from safetensors.torch import load_file

    adapter = load_file(str(tmp_path / "adapter" / "adapter_model.safetensors"))
    assert any(t.abs().sum() > 0 for k, t in adapter.items() if "lora_B" in k)
    merged = load_file(str(target / "model.safetensors"))
    original = load_file(str(tiny_dir / "model.safetensors"))
    assert set(merged) == set(original)
    assert all(merged[k].isfinite().all() for k in merged)
    assert any(not torch.equal(merged[k], original[k]) for k in original)
    assert any("loss" in row for row in read_jsonl(tmp_path / "train_log.jsonl"))
    _assert_ran_in_bf16_on_device(recorder)


def test_full_sft_of_a_bf16_model(tiny_dir: Path, tokenizer: Any, tmp_path: Path) -> None:
    """Full fine-tuning of a model loaded in bf16 (as a bf16 checkpoint loads): every weight
    matrix moves, losses finite, the weights stay bf16 on the device."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_dir, dtype=torch.bfloat16)
    config = SFTStageConfig(use_lora=False, max_steps=2, effective_batch_size=4,
                            per_device_train_batch_size=4, learning_rate=1e-3,
                            warmup_ratio=0.0, bf16=BF16)
    recorder = Recorder(build_sft_trainer)
    trainer = recorder(model, tokenizer, toy_patch_examples(tokenizer, 8), config, tmp_path)
    trainer.train()

    assert {p.dtype for p in trainer.model.parameters()} == {torch.bfloat16}
    assert all(p.requires_grad for p in trainer.model.parameters())
    assert len(_finite_losses(trainer.state.log_history)) == 2
    assert all(t.isfinite().all() for t in recorder.after.values())
    matrices = [n for n, t in recorder.before.items() if t.dim() == 2]
    assert matrices
    unchanged = [n for n in matrices if torch.equal(recorder.before[n], recorder.after[n])]
    assert not unchanged, unchanged
    _assert_ran_in_bf16_on_device(recorder)


def test_grpo_steps_with_transformers_generation(tiny_dir: Path, tmp_path: Path,
                                                 reward_worker: RewardWorker,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """``train_grpo`` (no vLLM): two steps in bf16 on the device, finite InT metrics."""
    recorder = Recorder(grpo.build_grpo_trainer)
    monkeypatch.setattr(grpo, "build_grpo_trainer", recorder)
    config = GRPOStageConfig(train_batch_size=2, ppo_mini_batch_size=2, rollout_n=4,
                             per_device_train_batch_size=4, max_completion_length=32,
                             max_steps=2, learning_rate=1e-4, use_vllm=False, bf16=BF16)
    target = train_grpo(tiny_dir, _problems(4, seed=3), config, tmp_path, reward_worker)

    assert recorder.trainer.args.use_vllm is False
    log = recorder.trainer.state.log_history
    metrics = step_metrics(log)
    assert [row["step"] for row in metrics] == [1, 2]
    for row in metrics:
        for key in grpo.LOGGED:
            assert key in row and math.isfinite(row[key]), (key, row)
        assert 0.0 <= row["reward"] <= 1.0
        assert 0 < row["completions/mean_length"] <= config.max_completion_length
    _finite_losses(log)
    assert all(t.isfinite().all() for t in recorder.after.values())
    assert any(not torch.equal(recorder.before[n], recorder.after[n]) for n in recorder.before)
    assert (target / "model.safetensors").exists()
    assert len(step_metrics(list(read_jsonl(tmp_path / "grpo_log.jsonl")))) == 2
    _assert_ran_in_bf16_on_device(recorder)  # generation and training forward passes


@contextmanager
def _ieee_fp32_matmuls() -> Iterator[None]:
    """fp32 means fp32 on the GPU too: no TF32 matmuls (torch >= 2.9 API, else the legacy)."""
    matmul = torch.backends.cuda.matmul
    name, value = (("fp32_precision", "ieee") if hasattr(matmul, "fp32_precision")
                   else ("allow_tf32", False))
    saved = getattr(matmul, name)
    setattr(matmul, name, value)
    try:
        yield
    finally:
        setattr(matmul, name, saved)


@pytest.fixture(scope="module")
def engine(tiny_dir: Path) -> TransformersEngine:
    """The transformers rollout engine over the tiny model (fp32) on the device."""
    return TransformersEngine.from_pretrained(tiny_dir, device=DEVICE, max_batch_size=4)


def test_engine_contract_on_device(engine: TransformersEngine) -> None:
    """The engine contract of every engine (seeds, sampled ids, continuations) on the device."""
    assert next(engine.model.parameters()).device.type == DEVICE
    engine_contract.check_n_samples_seeds_and_sampled_ids(engine)
    engine_contract.check_continuation_from_exact_prefix_ids(engine)
    engine_contract.check_model_learned_the_toy_format(engine)


def test_engine_greedy_agrees_with_cpu_fp32(engine: TransformersEngine, tiny_dir: Path) -> None:
    """Greedy decoding on the device (fp32, left-padded micro-batches) = greedy on the CPU."""
    requests = [GenerationRequest(p.problem_id, p.problem) for p in toy_problems(6, seed=9)]
    greedy = SamplingParams(n=1, temperature=0.0, max_tokens=12)
    cpu = TransformersEngine.from_pretrained(tiny_dir, device="cpu", max_batch_size=4)
    assert next(cpu.model.parameters()).dtype == torch.float32
    with _ieee_fp32_matmuls():
        on_device = [g[0].sampled_ids for g in engine.generate(requests, greedy)]
    on_cpu = [g[0].sampled_ids for g in cpu.generate(requests, greedy)]
    assert all(len(ids) >= 8 for ids in on_device)
    assert on_device == on_cpu


def test_engine_samples_in_bf16(tiny_dir: Path, tokenizer: Any) -> None:
    """A bf16 policy on the device: same seed, same samples; they decode; seeds differ."""
    from transformers import AutoModelForCausalLM

    model: Any = AutoModelForCausalLM.from_pretrained(tiny_dir, dtype=torch.bfloat16)
    engine = TransformersEngine(model.to(DEVICE).eval(), tokenizer, max_batch_size=4)
    requests = [GenerationRequest(p.problem_id, p.problem) for p in toy_problems(3, seed=4)]
    sampling = SamplingParams(n=3, temperature=1.0, top_p=0.95, max_tokens=24, seed=11)
    first = engine.generate(requests, sampling)
    again = engine.generate(requests, sampling)
    ids = [[r.sampled_ids for r in g] for g in first]
    assert [[r.sampled_ids for r in g] for g in again] == ids
    other = engine.generate(requests, SamplingParams(**{**sampling.__dict__, "seed": 12}))
    assert [[r.sampled_ids for r in g] for g in other] != ids
    for group in first:
        assert len(group) == 3
        for r in group:
            assert r.sampled_ids and len(r.sampled_ids) <= sampling.max_tokens
            assert r.text == decode(tokenizer, r.sampled_ids) and r.text.strip()
            assert not set(r.sampled_ids) & engine.stop_ids
    assert next(engine.model.parameters()).dtype == torch.bfloat16
