"""Splice trainer: Algorithm 1 of the InT paper on TRL, peft and transformers.

Stages (each a module, each resumable, tied together by :mod:`splice.trainer.pipeline` and the
``splice-train`` CLI): :mod:`~splice.trainer.mine` (hard set, §6.1) →
:mod:`~splice.trainer.collect` (oracle interventions through the SDK) →
:mod:`~splice.trainer.counterfactual` (filter, §4.2 / Table 1) →
:mod:`~splice.trainer.patch` + :mod:`~splice.trainer.sft` (patching SFT, App. C Table 4) →
:mod:`~splice.trainer.grpo` (RL, §4.3, App. C Table 3) → :mod:`~splice.trainer.evaluate`
(pass@k). Rollouts come from a :class:`~splice.trainer.engine.RolloutEngine`
(:mod:`~splice.trainer.hf_engine` on transformers); rewards from
:mod:`~splice.trainer.rewards`; :mod:`~splice.trainer.tiny` builds test models offline.
"""
