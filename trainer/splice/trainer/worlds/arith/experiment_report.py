"""The comparison's numbers, table, pass@k plot and Markdown report, all from ``results.json``.

Confidence intervals resample seeds, then problems within each seed (the pre-registered
paired bootstrap); with one seed this is the usual bootstrap over problems.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from splice.trainer.evaluate import EvalResult, pass_at_k
from splice.trainer.progress import print_table

RESULTS, PLOT, REPORT = "results.json", "pass_at_k.png", "report.md"


def _mean(n: int, counts: Sequence[int], k: int) -> float:
    return sum(pass_at_k(n, c, k) for c in counts) / len(counts) if counts else 0.0


def _table(runs: Sequence[EvalResult], ids: Sequence[str], k: int) -> Any:
    """pass@k per (seed, problem) as an array."""
    import numpy as np

    return np.array([[pass_at_k(r.n, r.correct[p], k) for p in ids] for r in runs])


def bootstrap_pass(runs: Sequence[EvalResult], k: int, minus: Sequence[EvalResult] = (),
                   bootstrap: int = 1000, confidence: float = 0.95,
                   seed: int = 0) -> dict[str, float]:
    """Mean pass@k over seeds (minus ``minus``'s, paired by seed and problem) and its CI.

    Each draw picks seeds with replacement, then problems with replacement within each
    picked seed; the same draws serve every k (``seed`` fixes them).
    """
    import numpy as np

    ids = [p for p in runs[0].correct if all(p in r.correct for r in [*runs, *minus])]
    values = _table(runs, ids, k)
    if minus:
        values = values - _table(minus, ids, k)
    point = float(values.mean()) if ids else 0.0
    if not ids or bootstrap <= 0:
        return {"value": point, "ci_low": point, "ci_high": point}
    rng = np.random.default_rng(seed)
    n_seeds, n_ids = values.shape
    seeds = rng.integers(0, n_seeds, size=(bootstrap, n_seeds))
    picks = rng.integers(0, n_ids, size=(bootstrap, n_seeds, n_ids))
    draws = np.sort(values[seeds[:, :, None], picks].mean(axis=(1, 2)))
    lo = int((1 - confidence) / 2 * (len(draws) - 1))
    return {"value": point, "ci_low": float(draws[lo]),
            "ci_high": float(draws[len(draws) - 1 - lo])}


def arm_summary(runs: Sequence[EvalResult], bootstrap: int, confidence: float) -> dict[str, Any]:
    """pass@k for k = 1..K (mean over seeds) with CIs, and problems solved at least once."""
    n = min(r.n for r in runs)
    return {"n": n, "pass_at": {str(k): bootstrap_pass(runs, k, bootstrap=bootstrap,
                                                       confidence=confidence)
                                for k in range(1, n + 1)},
            "solved_at_least_once": sum(r.solved_at_least_once for r in runs) / len(runs)}


def aux_summary(runs: Sequence[EvalResult]) -> dict[str, float]:
    """pass@1 and pass@n (mean over seeds) on a set evaluated with fewer samples."""
    n = min(r.n for r in runs)
    return {"n": n, "pass@1": sum(_mean(r.n, list(r.correct.values()), 1) for r in runs)
            / len(runs), f"pass@{n}": sum(_mean(r.n, list(r.correct.values()), n)
                                          for r in runs) / len(runs)}


def _ci(row: Mapping[str, float], sign: str = "") -> str:
    return f"[{row['ci_low']:{sign}.3f}, {row['ci_high']:{sign}.3f}]"


def table_rows(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per arm: pass@1, pass@k of the verdict with its CI, the paired difference
    against standard RL with its CI, problems solved at least once."""
    k = str(results["diff"]["k"])
    versus = results.get("versus_standard", {})
    rows = []
    for arm, summary in results["arms"].items():
        one, top = summary["pass_at"]["1"], summary["pass_at"][k]
        d = versus.get(arm)
        rows.append({"arm": arm, "pass@1": f"{one['value']:.3f}",
                     f"pass@{k}": f"{top['value']:.3f}", f"pass@{k} 95% CI": _ci(top),
                     "Δ vs (i)": f"{d['value']:+.3f}" if d else "—",
                     "Δ 95% CI": _ci(d, "+") if d else "—",
                     "solved ≥1 (of test)": f"{summary['solved_at_least_once']:.1f}"})
    return rows


def aux_rows(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per arm: the training hard set and the standard set (pass@1, pass@n), and the arm's
    extra cost beyond the equal RL budget."""
    aux, costs = results.get("aux", {}), results.get("costs", {})
    rows = []
    for arm in results["arms"]:
        row: dict[str, Any] = {"arm": arm}
        for name, label in (("hard_train", "train HARD"), ("standard", "standard")):
            s = aux.get(name, {}).get(arm)
            if s:
                n = s["n"]
                row[f"{label} pass@1"] = f"{s['pass@1']:.3f}"
                row[f"{label} pass@{n}"] = f"{s[f'pass@{n}']:.3f}"
        c = costs.get(arm, {})
        row["SFT tokens"] = c.get("sft_tokens", 0)
        row["filter rollouts"] = c.get("filter_rollouts", 0)
        rows.append(row)
    return rows


def write_plot(results: Mapping[str, Any], path: Path) -> None:
    """pass@k curves, one per arm, with the CI as a band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for arm, summary in results["arms"].items():
        ks = sorted(int(k) for k in summary["pass_at"])
        rows = [summary["pass_at"][str(k)] for k in ks]
        ax.plot(ks, [r["value"] for r in rows], marker="o", label=arm)
        ax.fill_between(ks, [r["ci_low"] for r in rows], [r["ci_high"] for r in rows], alpha=0.15)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("k")
    ax.set_ylabel("pass@k (held-out HARD test set)")
    ax.set_title(f"{results['label']}: pass@k per arm")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _g(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


def _markdown_table(rows: Sequence[Mapping[str, Any]]) -> str:
    head = list(rows[0])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(r[h]) for h in head) + " |" for r in rows]
    return "\n".join(lines)


def render_report(results: Mapping[str, Any]) -> str:
    """The Markdown report (every number comes from ``results``)."""
    diff = results["diff"]
    verdict = "CI > 0: the claim holds" if diff["ci_low"] > 0 else "CI includes 0: no claim"
    table1 = results["table1"]
    t1_rows = [{"arm": arm, "prompts": int(v["prompts"]), "samples": int(v["samples"]),
                "success rate": f"{v['success_rate']:.3f}"} for arm, v in table1.items()]
    cfg = results["config"]
    parts = [
        f"# {results['label']}: InT vs standard RL in the arith world",
        "",
        f"**{results['label']}** — {cfg['preset']} preset; not the pre-registered comparison "
        "(docs/preregistration.md)." if results["label"] == "REDUCED RUN" else
        f"Preset {cfg['preset']} (docs/preregistration.md).",
        "",
        f"Held-out HARD test set: {results['sets']['test']} problems, "
        f"{cfg['eval_n']} samples each. HARD train set: {results['sets']['hard']} of "
        f"{results['sets']['hard_pool']} mined problems had 0 of {cfg['mine_n']} correct; "
        f"easy mix: {results['sets']['easy']} TRAIN problems. RL budget per arm: "
        f"{results['rl_budget']}.",
        "",
        "## pass@k on the held-out HARD test set",
        "",
        _markdown_table(table_rows(results)),
        "",
        f"![pass@k]({PLOT})",
        "",
        "## Skills kept and extra cost",
        "",
        f"Training hard set ({results['sets']['hard']} problems) and a held-out standard "
        f"(TRAIN-preset) set ({results['sets'].get('standard', 0)} problems), "
        f"{cfg.get('aux_n', 0)} samples each; SFT tokens carrying loss and the filter's "
        "rollouts are each arm's cost beyond the equal RL budget.",
        "",
        _markdown_table(aux_rows(results)),
        "",
        f"## Paired difference {diff['minuend']} − {diff['subtrahend']}, pass@{diff['k']}",
        "",
        f"{diff['value']:+.3f} (95% CI [{diff['ci_low']:+.3f}, {diff['ci_high']:+.3f}], "
        f"paired bootstrap over seeds then problems) — {verdict}.",
        "",
        "## Table 1 analogue (counterfactual filter, base policy)",
        "",
        _markdown_table(t1_rows) if t1_rows else "(no arms recorded)",
        "",
        f"Interventions: {results['interventions']}; kept by the filter: "
        f"{results['kept']}; patch examples: {results['patch_examples']}.",
        "",
        "## Hyper-parameters per arm",
        "",
        ("Tuned on the validation split (seed 0, equal GRPO trials per arm; "
         "docs/preregistration.md)." if results.get("tuned") else
         "Not tuned: every arm uses the preset's values."),
        "",
        _markdown_table([{"arm": arm, "SFT lr": _g(c["sft_lr"]),
                          "SFT epochs": _g(c["sft_epochs"]), "GRPO lr": _g(c["grpo_lr"])}
                         for arm, c in results.get("choices", {}).items()])
        if results.get("choices") else "",
        "",
        "## Run",
        "",
        f"- seeds: {cfg['seeds']} (problem sets: pool {cfg['pool_seed']}, easy "
        f"{cfg['easy_seed']}, test {cfg['test_seed']})",
        f"- commit: {results['commit']}",
        f"- wall time: {results['wall_s']:.0f} s",
    ]
    return "\n".join(parts) + "\n"


def write_outputs(results: dict[str, Any], out: Path, show: bool = True) -> None:
    """results.json, pass_at_k.png and report.md; prints the table."""
    (out / RESULTS).write_text(json.dumps(results, indent=2))
    write_plot(results, out / PLOT)
    (out / REPORT).write_text(render_report(results))
    print_table(f"{results['label']}: held-out HARD pass@k", table_rows(results), show)
    d = results["diff"]
    print_table("paired difference", [{
        "diff": f"{d['minuend']} − {d['subtrahend']}", "k": d["k"], "value": d["value"],
        "95% CI": f"[{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]"}], show)
