"""Splice trainer: Algorithm 1 of the InT paper on TRL, peft and vLLM."""
