"""tabsynth against its peers: one script, one machine, one judge, on Adult and credit_default.

Usage (from the repo root, with the shared folder next to it):

    OMP_NUM_THREADS=2 python benchmarks/peers.py [--datasets credit_default,adult]
        [--epsilons 0.5,1,3,8,none] [--systems tabsynth-dp-tvae,...] [--ctgan-epochs 100]
        [--skip-smartnoise] [--sn-python /tmp/sn-venv/bin/python] [--timeout 1800]
        [--threads 1] [--jobs 2] [--stop-at 18:55] [--out benchmarks/results/peers.json]
        [--plot docs/img/peers.svg] [--plot-only] [--table]
        [--schema credit_default=benchmarks/schema_credit_default.yaml]

Systems (``--systems``, comma separated; default all):
  * ``tabsynth-dp-tvae``, ``tabsynth-dp-ctgan``: tabsynth at every epsilon (``none`` = no DP),
    delta = 1e-5, default settings, schema inferred (every statistic paid from the budget);
  * ``ctgan-tvae``, ``ctgan-ctgan``: the ``ctgan`` package (non-DP; run only for ``none``),
    ``--ctgan-epochs`` epochs, otherwise its defaults;
  * ``sn-dpctgan``, ``sn-mst``, ``sn-aim``: SmartNoise synth (finite epsilons only), run in its own
    virtual environment by ``benchmarks/_smartnoise_runner.py`` (10% of epsilon goes to its
    preprocessor to find numeric bounds; its DPCTGAN epsilon assumes Poisson sampling that it does
    not do, so that epsilon is not a proven bound).

``--schema DATASET=PATH`` adds a variant: the tabsynth systems on DATASET also run with that schema
(public category lists, as SmartNoise reads them from the data for free), next to the inferred one.

``--jobs N`` runs N runs at a time, each with ``--threads`` threads, longest first. SmartNoise
DPCTGAN trains until its budget is spent, so its run time grows with epsilon: its epsilons run in
increasing order and, once one times out, the larger ones are recorded as not run.

Every run fits in a child process (killed after ``--timeout`` seconds and recorded as timed out),
samples as many rows as the training table and writes them to a CSV; another child process then
scores every table the same way: ``../shared/judge/score.py`` (TSTR AUC, quality, DCR share, exact
copies) and tabsynth's audit with a reduced :class:`AuditConfig` (MIA AUC, and its own DCR
share). One record per run is written to ``--out`` as soon as it finishes (a record with the
same dataset, system and epsilon is replaced), so an interrupted run keeps what finished.
The plot (TSTR AUC and quality against epsilon per dataset) is an inline SVG written by hand
(no plotting library needed).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import json
import math
import os
import platform
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(SHARED / "judge"))

import score as judge  # noqa: E402

DATASETS: dict[str, dict[str, Any]] = {
    "adult": {"target": "income", "sensitive": ["sex", "race"]},
    "credit_default": {"target": "default", "sensitive": ["student"]},
}
DP_SYSTEMS = ("tabsynth-dp-tvae", "tabsynth-dp-ctgan")
NON_DP_SYSTEMS = ("ctgan-tvae", "ctgan-ctgan")
SN_SYSTEMS = ("sn-dpctgan", "sn-mst", "sn-aim")
ALL_SYSTEMS = DP_SYSTEMS + NON_DP_SYSTEMS + SN_SYSTEMS
LABELS = {
    "tabsynth-dp-tvae": "tabsynth DP-TVAE",
    "tabsynth-dp-ctgan": "tabsynth DP-CTGAN",
    "ctgan-tvae": "ctgan TVAE",
    "ctgan-ctgan": "ctgan CTGAN",
    "sn-dpctgan": "SmartNoise DPCTGAN",
    "sn-mst": "SmartNoise MST",
    "sn-aim": "SmartNoise AIM",
}
MISSING = "__missing__"
SCORE_TIMEOUT_S = 1200.0
# Rough single-thread cost ranks, used only to start the longest runs first under --jobs.
EXPECTED_COST = {"sn-dpctgan": 6, "sn-aim": 5, "ctgan-ctgan": 4, "ctgan-tvae": 3}
AUDIT_SETTINGS = {
    "max_real_rows": 5000,
    "dcr_synthetic_rows": 2000,
    "max_synthetic_rows": 5000,
    "mia_rows": 2000,
    "detection_rows": 2000,
    "n_attacks": 200,
    "n_bootstrap": 50,
    "singling_out_max_attempts": 20_000,
    "fairness_intersections": False,
}


def _eps_key(eps: float | None) -> str:
    return "none" if eps is None else f"{eps:g}"


def _parse_eps(text: str) -> list[float | None]:
    out: list[float | None] = []
    for part in text.split(","):
        part = part.strip().lower()
        out.append(None if part in ("none", "inf", "") else float(part))
    return out


# --------------------------------------------------------------------------- child: fit + sample


def _child(spec: dict[str, Any]) -> None:
    """Fit one in-process system (tabsynth or ctgan), sample, write CSV + timing JSON."""
    import torch

    torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    np.random.seed(0)  # noqa: NPY002 (ctgan draws from the legacy global RNG)
    np.seterr(all="ignore")
    dataset, system, eps = spec["dataset"], spec["system"], spec["epsilon"]
    train, _, _ = judge.load(dataset)
    info: dict[str, Any] = {}
    if system.startswith("tabsynth-"):
        from tabsynth.schema import load_schema
        from tabsynth.synthesizers import Synthesizer

        kind = system.removeprefix("tabsynth-")
        schema = load_schema(spec["schema"]) if spec.get("schema") else None
        synth = Synthesizer(kind, epsilon=eps, delta=1e-5, random_state=0, device="cpu")
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            synth.fit(train, schema, target=DATASETS[dataset]["target"], sensitive=DATASETS[dataset]["sensitive"])
        fit_s = time.perf_counter() - started
        started = time.perf_counter()
        synthetic = synth.sample(len(train), random_state=1)
        sample_s = time.perf_counter() - started
        result = synth.train_result_
        info["epochs"] = round(result.steps * result.sample_rate, 2)
        info["epsilon_spent"] = synth.privacy_spent()["epsilon"] if eps is not None else None
        info["stratified"] = getattr(synth, "stratified_", getattr(synth, "stratify", None))
        info["tabsynth_tree"] = _git_state()
    else:
        from ctgan import CTGAN, TVAE

        discrete = [c for c in train.columns if not pd.api.types.is_numeric_dtype(train[c])]
        epochs = spec["ctgan_epochs"]
        model = CTGAN(epochs=epochs, enable_gpu=False) if system == "ctgan-ctgan" else TVAE(epochs=epochs, cuda=False)
        model.set_random_state(0)
        data = train.copy()
        for c in discrete:
            data[c] = data[c].fillna(MISSING)
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(data, discrete_columns=discrete)
        fit_s = time.perf_counter() - started
        started = time.perf_counter()
        synthetic = model.sample(len(train))
        sample_s = time.perf_counter() - started
        for c in discrete:
            synthetic[c] = synthetic[c].where(synthetic[c].astype(str) != MISSING, np.nan)
        info["epochs"] = epochs
    synthetic.to_csv(spec["out_csv"], index=False)
    info |= {
        "fit_s": round(fit_s, 2),
        "sample_s": round(sample_s, 3),
        "sample_rows_per_s": round(len(train) / sample_s) if sample_s > 0 else None,
        "threads": spec["threads"],
    }
    Path(spec["out_json"]).write_text(json.dumps(info))


def _git_state() -> str:
    """HEAD commit, plus "+ uncommitted changes in tabsynth/" when the package differs from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "tabsynth"], cwd=ROOT).returncode
    except OSError:
        return "unknown"
    return head.stdout.strip() + (" + uncommitted changes in tabsynth/" if dirty else "")


# --------------------------------------------------------------------------- parent: run + score


def _run_with_timeout(cmd: list[str], timeout: float, env: dict[str, str]) -> tuple[str, str]:
    """Run ``cmd`` in its own process group; returns (status, stderr tail)."""
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return "timeout", (out or "")[-1500:]
    return ("ok" if proc.returncode == 0 else f"error (exit {proc.returncode})"), (out or "")[-1500:]


def _coerce(synthetic: pd.DataFrame, train: pd.DataFrame) -> pd.DataFrame:
    """Give the synthetic table the training table's column types (for the audit's type check)."""
    out = synthetic[list(train.columns)].copy()
    for c in train.columns:
        if pd.api.types.is_numeric_dtype(train[c]):
            values = pd.to_numeric(out[c], errors="coerce")
            if pd.api.types.is_integer_dtype(train[c]) and not values.isna().any():
                values = values.round().astype(train[c].dtype)
            out[c] = values
        else:
            out[c] = out[c].astype(object).where(out[c].notna(), np.nan)
            out[c] = out[c].map(lambda v: v if isinstance(v, str) or v is np.nan else str(v))
    return out


def _audit(dataset: str, synthetic: pd.DataFrame) -> dict[str, Any]:
    from tabsynth.audit import AuditConfig, run_audit

    train, test, _ = judge.load(dataset)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = run_audit(
            train,
            _coerce(synthetic, train),
            holdout=test,
            target=DATASETS[dataset]["target"],
            sensitive=DATASETS[dataset]["sensitive"],
            config=AuditConfig(**AUDIT_SETTINGS),
        )

    def value(name: str) -> float | None:
        v = report[name].value
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else round(float(v), 4)

    return {
        "mia_auc": value("privacy.mia_auc"),
        "audit_dcr_share": value("privacy.dcr_share"),
        "audit_s": round(time.perf_counter() - started, 1),
    }


def _score_child(spec: dict[str, Any]) -> None:
    """Score one synthetic CSV with the judge and tabsynth's audit; write the numbers as JSON."""
    dataset = spec["dataset"]
    synthetic = pd.read_csv(spec["csv"])
    record: dict[str, Any] = {}
    scored = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        record |= judge.score(dataset, synthetic)
    record["judge_s"] = round(time.perf_counter() - scored, 1)
    try:
        record |= _audit(dataset, synthetic)
    except Exception as exc:  # the judge numbers still count when the audit cannot run
        record["audit_error"] = f"{type(exc).__name__}: {exc}"
    Path(spec["out_json"]).write_text(json.dumps(record))


def _base_record(dataset: str, system: str, eps: float | None, schema: str | None, rows: int) -> dict[str, Any]:
    return {
        "dataset": dataset,
        "system": system,
        "label": LABELS[system] + (" (public category lists)" if schema else ""),
        "variant": "schema: " + Path(schema).name if schema else "schema inferred" if system in DP_SYSTEMS else None,
        "epsilon": eps,
        "delta": 1e-5 if eps is not None else None,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "train_rows": rows,
    }


def _one_run(
    args: argparse.Namespace, dataset: str, system: str, eps: float | None, schema: str | None, work: Path
) -> dict[str, Any]:
    train, _, _ = judge.load(dataset)
    tag = f"{dataset}_{system}_{_eps_key(eps)}{'_schema' if schema else ''}"
    out_csv, out_json = work / f"{tag}.csv", work / f"{tag}.json"
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(args.threads)
    if system in SN_SYSTEMS:
        train_csv = work / f"{dataset}_train.csv"
        if not train_csv.exists():
            train.to_csv(train_csv, index=False)
        cmd = [
            args.sn_python,
            str(ROOT / "benchmarks" / "_smartnoise_runner.py"),
            "--train",
            str(train_csv),
            "--system",
            system.removeprefix("sn-"),
            "--epsilon",
            str(eps),
            "--threads",
            str(args.threads),
            "--out-csv",
            str(out_csv),
            "--out-json",
            str(out_json),
        ]
    else:
        spec = {
            "dataset": dataset,
            "system": system,
            "epsilon": eps,
            "threads": args.threads,
            "ctgan_epochs": args.ctgan_epochs,
            "schema": schema,
            "out_csv": str(out_csv),
            "out_json": str(out_json),
        }
        cmd = [sys.executable, str(Path(__file__).resolve()), "--_child", json.dumps(spec)]
    record = _base_record(dataset, system, eps, schema, len(train))
    record["threads"] = args.threads
    if system in NON_DP_SYSTEMS:
        record["epochs"] = args.ctgan_epochs
    started = time.perf_counter()
    status, tail = _run_with_timeout(cmd, args.timeout, env)
    record["wall_s"] = round(time.perf_counter() - started, 1)
    record["status"] = status
    if status == "timeout":
        record["timeout_s"] = args.timeout
        return record
    if status != "ok" or not out_csv.exists():
        record["status"] = status if status != "ok" else "error (no output)"
        record["error"] = tail
        return record
    record |= json.loads(out_json.read_text())
    score_json = work / f"{tag}_score.json"
    spec = {"dataset": dataset, "csv": str(out_csv), "out_json": str(score_json)}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_score", json.dumps(spec)]
    status, tail = _run_with_timeout(cmd, SCORE_TIMEOUT_S, env)
    if status != "ok" or not score_json.exists():
        record["score_error"] = f"{status}: {tail}"
        return record
    record |= json.loads(score_json.read_text())
    return record


def _load_results(path: Path) -> dict[str, Any]:
    if path.exists():
        return json.loads(path.read_text())
    return {"runs": []}


def _key(record: dict[str, Any]) -> tuple[str, str, str, str]:
    variant = record.get("variant") or ("schema inferred" if record["system"] in DP_SYSTEMS else "")
    return record["dataset"], record["system"], _eps_key(record["epsilon"]), variant


def _save_record(path: Path, record: dict[str, Any], meta: dict[str, Any]) -> None:
    data = _load_results(path)
    data["runs"] = [r for r in data["runs"] if _key(r) != _key(record)]
    data["runs"].append(record | {"command": meta["command"]})
    in_use = {r.get("command") for r in data["runs"]}  # commands whose records were all replaced drop out
    commands = [c for c in data.get("meta", {}).get("commands", []) if c in in_use]
    if meta["command"] not in commands:
        commands.append(meta["command"])
    data["meta"] = {k: v for k, v in meta.items() if k != "command"} | {"commands": commands}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


# --------------------------------------------------------------------------- plot (inline SVG)

COLORS = {
    "tabsynth-dp-tvae": "#1f77b4",
    "tabsynth-dp-ctgan": "#17becf",
    "ctgan-tvae": "#7f7f7f",
    "ctgan-ctgan": "#bcbd22",
    "sn-dpctgan": "#d62728",
    "sn-mst": "#ff7f0e",
    "sn-aim": "#2ca02c",
}


def _has_schema(record: dict[str, Any]) -> bool:
    return str(record.get("variant") or "").startswith("schema: ")


def _series(runs: list[dict[str, Any]]) -> list[tuple[str, bool]]:
    present = {(r["system"], _has_schema(r)) for r in runs}
    return [(s, v) for s in ALL_SYSTEMS for v in (False, True) if (s, v) in present]


def _svg_plot(runs: list[dict[str, Any]], path: Path) -> None:
    ok = [r for r in runs if r.get("status") == "ok" and r.get("tstr_auc") is not None]
    datasets = [d for d in ("credit_default", "adult") if any(r["dataset"] == d for r in ok)]
    if not datasets:
        return
    metrics = [("tstr_auc", "TSTR AUC", "trtr_auc"), ("quality", "quality", "quality_ceiling")]
    xs = [0.5, 1.0, 3.0, 8.0]
    pw, ph, ml, mt, gap = 330, 230, 55, 40, 30
    width = ml + 2 * (pw + gap) + 300
    height = mt + len(datasets) * (ph + 70) + 10
    lx0, lx1 = math.log(0.4), math.log(10.0)

    def xpos(eps: float | None, x0: float) -> float:
        if eps is None:
            return x0 + pw - 22
        return x0 + 10 + (math.log(eps) - lx0) / (lx1 - lx0) * (pw - 60)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{ml}" y="18" font-size="13" font-weight="bold">Utility against epsilon '
        "(judge: ../shared/judge/score.py; delta = 1e-5; rightmost tick = no DP)</text>",
    ]
    for row, dataset in enumerate(datasets):
        rows = [r for r in ok if r["dataset"] == dataset]
        for col, (metric, title, ceiling_key) in enumerate(metrics):
            x0 = ml + col * (pw + gap)
            y0 = mt + row * (ph + 70) + 15
            values = [r[metric] for r in rows if r.get(metric) is not None]
            ceiling = next((r[ceiling_key] for r in rows if r.get(ceiling_key) is not None), None)
            lo = min(values + ([ceiling] if ceiling else [])) if values else 0.4
            hi = max(values + ([ceiling] if ceiling else [])) if values else 1.0
            if metric == "tstr_auc":
                lo = min(lo, 0.5)  # show the chance line
            lo, hi = math.floor(lo * 20) / 20, min(1.0, math.ceil(hi * 20) / 20 + 0.05)
            if hi - lo < 0.1:
                lo = hi - 0.1
            step = 0.05 if hi - lo <= 0.4 else 0.1
            lo = math.floor(lo / step + 1e-9) * step

            def ypos(v: float, lo: float = lo, hi: float = hi, y0: float = y0) -> float:
                return y0 + ph - (v - lo) / (hi - lo) * ph

            parts.append(f'<text x="{x0}" y="{y0 - 6}" font-weight="bold">{dataset}: {title}</text>')
            parts.append(f'<rect x="{x0}" y="{y0}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>')
            tick = lo
            while tick <= hi + 1e-9:
                y = ypos(tick)
                parts.append(f'<line x1="{x0}" x2="{x0 + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
                parts.append(f'<text x="{x0 - 4}" y="{y + 4:.1f}" text-anchor="end">{tick:.2f}</text>')
                tick += step
            for eps in [*xs, None]:
                x = xpos(eps, x0)
                label = "none" if eps is None else f"{eps:g}"
                parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y0 + ph}" y2="{y0 + ph + 4}" stroke="#444"/>')
                parts.append(f'<text x="{x:.1f}" y="{y0 + ph + 16}" text-anchor="middle">{label}</text>')
            parts.append(f'<text x="{x0 + pw / 2}" y="{y0 + ph + 32}" text-anchor="middle">epsilon (log scale)</text>')
            if metric == "tstr_auc":
                y = ypos(0.5)
                parts.append(
                    f'<line x1="{x0}" x2="{x0 + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#999" stroke-dasharray="2,3"/>'
                )
                parts.append(f'<text x="{x0 + pw - 4}" y="{y - 3:.1f}" fill="#777" text-anchor="end">chance</text>')
            if ceiling is not None:
                y = ypos(ceiling)
                parts.append(
                    f'<line x1="{x0}" x2="{x0 + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#000" stroke-dasharray="5,4"/>'
                )
                parts.append(f'<text x="{x0 + 4}" y="{y - 3:.1f}" fill="#000">real data {ceiling:.3f}</text>')
            for system, schema_given in _series(ok):
                pts = sorted(
                    (
                        (r["epsilon"], r[metric])
                        for r in rows
                        if r["system"] == system and _has_schema(r) == schema_given and r.get(metric) is not None
                    ),
                    key=lambda p: math.inf if p[0] is None else p[0],
                )
                if not pts:
                    continue
                color = COLORS[system]
                dash = ' stroke-dasharray="6,3"' if schema_given else ""
                finite = [(xpos(e, x0), ypos(v)) for e, v in pts if e is not None]
                if len(finite) > 1:
                    d = " ".join(f"{x:.1f},{y:.1f}" for x, y in finite)
                    parts.append(f'<polyline points="{d}" fill="none" stroke="{color}" stroke-width="2"{dash}/>')
                for e, v in pts:
                    x, y = xpos(e, x0), ypos(v)
                    if system in NON_DP_SYSTEMS:
                        parts.append(
                            f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" fill="{color}" stroke="#000"/>'
                        )
                    elif schema_given:
                        parts.append(
                            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="white" stroke="{color}" stroke-width="2"/>'
                        )
                    else:
                        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{color}"/>')
    lx, ly = ml + 2 * (pw + gap), mt + 15
    for i, (system, schema_given) in enumerate(_series(ok)):
        y = ly + i * 18
        label = LABELS[system] + (", public categories (hollow)" if schema_given else "")
        parts.append(f'<rect x="{lx}" y="{y - 8}" width="12" height="10" fill="{COLORS[system]}"/>')
        parts.append(f'<text x="{lx + 18}" y="{y + 1}">{label}</text>')
    parts.append("</svg>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts) + "\n")


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}" if abs(value) < 1000 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def markdown_table(runs: list[dict[str, Any]], dataset: str) -> str:
    """The measured runs of one dataset as a Markdown table (status shown for runs without scores)."""
    order = {s: i for i, s in enumerate(ALL_SYSTEMS)}
    rows = sorted(
        (r for r in runs if r["dataset"] == dataset),
        key=lambda r: (order[r["system"]], _has_schema(r), math.inf if r["epsilon"] is None else r["epsilon"]),
    )
    lines = [
        "| system | ε | TSTR AUC | quality | DCR share (judge) | MIA AUC (audit) | exact | fit (s) | sample rows/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        label = r.get("label", LABELS[r["system"]])
        eps = _eps_key(r["epsilon"])
        if r.get("status") != "ok":
            status = r.get("status", "?")
            if status == "timeout":
                status = f"timed out after {r.get('timeout_s', 0):.0f} s"
            elif status == "skipped":
                status = f"not run: {r.get('reason', '')}"
            elif r.get("error"):
                status = _error_cell(r["error"])
            lines.append(f"| {label} | {eps} | {status} | | | | | | |")
            continue
        lines.append(
            f"| {label} | {eps} | {_fmt(r.get('tstr_auc'))} | {_fmt(r.get('quality'))} | {_fmt(r.get('dcr_share'))} "
            f"| {_fmt(r.get('mia_auc'))} | {_fmt(r.get('exact'))} | {_fmt(r.get('fit_s'), 1)} "
            f"| {_fmt(r.get('sample_rows_per_s'))} |"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def _past(stop_at: str | None) -> bool:
    if not stop_at:
        return False
    now = dt.datetime.now(dt.UTC)
    hour, minute = (int(x) for x in stop_at.split(":"))
    return (now.hour, now.minute) >= (hour, minute)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--_child":
        _child(json.loads(sys.argv[2]))
        return
    if len(sys.argv) == 3 and sys.argv[1] == "--_score":
        _score_child(json.loads(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="credit_default,adult")
    parser.add_argument("--epsilons", default="0.5,1,3,8,none")
    parser.add_argument("--systems", default=",".join(ALL_SYSTEMS))
    parser.add_argument("--ctgan-epochs", type=int, default=100)
    parser.add_argument("--skip-smartnoise", action="store_true")
    parser.add_argument("--sn-python", default="/tmp/sn-venv/bin/python")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per run (fit + sample)")
    parser.add_argument("--threads", type=int, default=2, help="threads per run")
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time (jobs x threads <= cores)")
    parser.add_argument("--stop-at", default=None, help="HH:MM UTC; no new run starts after it")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "peers.json")
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "img" / "peers.svg")
    parser.add_argument("--plot-only", action="store_true", help="only redraw the plot from --out")
    parser.add_argument("--table", action="store_true", help="print Markdown tables of --out and exit")
    parser.add_argument(
        "--schema",
        action="append",
        default=[],
        metavar="DATASET=PATH",
        help="tabsynth runs on DATASET use this schema (e.g. public category lists) instead of inferring it",
    )
    args = parser.parse_args()
    if args.table:
        runs = _load_results(args.out)["runs"]
        for dataset in dict.fromkeys(r["dataset"] for r in runs):
            print(f"\n{dataset}\n\n{markdown_table(runs, dataset)}")
        return
    if args.plot_only:
        _svg_plot(_load_results(args.out)["runs"], args.plot)
        return
    args.schema_paths = dict(item.split("=", 1) for item in args.schema)
    datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    epsilons = _parse_eps(args.epsilons)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = [s for s in systems if s not in ALL_SYSTEMS] + [d for d in datasets if d not in DATASETS]
    if unknown:
        parser.error(f"unknown systems/datasets: {unknown}")
    if args.skip_smartnoise:
        systems = [s for s in systems if s not in SN_SYSTEMS]
    meta = {
        "command": " ".join(shlex.quote(a) for a in ["python", "benchmarks/peers.py", *sys.argv[1:]]),
        "machine": f"{platform.node()} ({os.cpu_count()} CPUs)",
        "parallel": f"{args.jobs} run(s) at a time, {args.threads} thread(s) each",
        "audit_config": AUDIT_SETTINGS,
        "delta": 1e-5,
    }
    tasks = _plan(datasets, systems, epsilons, args.schema_paths)
    lock = threading.Lock()
    skipped: list[tuple[str, str, str]] = []

    def save(record: dict[str, Any]) -> None:
        with lock:
            _save_record(args.out, record, meta)
            _svg_plot(_load_results(args.out)["runs"], args.plot)

    def run_chain(chain: list[tuple[str, str, float | None, str | None]], work: Path) -> None:
        timed_out: float | None = None
        for dataset, system, eps, schema in chain:
            name = f"{dataset} {system} eps={_eps_key(eps)}{' (schema)' if schema else ''}"
            if _past(args.stop_at):
                with lock:
                    skipped.append((dataset, system, _eps_key(eps)))
                continue
            if timed_out is not None:
                # SmartNoise DPCTGAN trains until its budget is spent: its run time grows with
                # epsilon, so a larger epsilon cannot finish where a smaller one timed out.
                record = _base_record(dataset, system, eps, schema, len(judge.load(dataset)[0]))
                record |= {"status": "skipped", "reason": f"epsilon {timed_out:g} timed out"}
                save(record)
                continue
            print(f"[{dt.datetime.now(dt.UTC):%H:%M:%S}] start {name}", flush=True)
            record = _one_run(args, dataset, system, eps, schema, work)
            save(record)
            shown = {k: record.get(k) for k in ("status", "fit_s", "tstr_auc", "quality", "dcr_share", "mia_auc")}
            print(f"[{dt.datetime.now(dt.UTC):%H:%M:%S}] done {name} {json.dumps(shown)}", flush=True)
            if record["status"] == "timeout" and system == "sn-dpctgan":
                timed_out = eps

    with tempfile.TemporaryDirectory(prefix="peers_") as tmp:
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = [pool.submit(run_chain, chain, Path(tmp)) for chain in tasks]
            for future in concurrent.futures.as_completed(futures):
                future.result()
    if skipped:
        print("not started (past --stop-at):", json.dumps(skipped), flush=True)
    _svg_plot(_load_results(args.out)["runs"], args.plot)


REFUSALS = ("SchemaError", "ConfigError", "PrivacyError", "BudgetExceededError", "DataError")


def _error_cell(error: str) -> str:
    """The last traceback line: "refused (SchemaError): first sentence" for tabsynth's own errors."""
    last = [line for line in error.strip().splitlines() if line.strip()][-1]
    kind, _, message = last.partition(": ")
    kind = kind.split(".")[-1]
    if kind in REFUSALS:
        return f"refused ({kind}): {message.split('. ')[0].rstrip('.')}"
    return f"failed ({kind}): {message[:100]}"


def _plan(
    datasets: list[str], systems: list[str], epsilons: list[float | None], schema_paths: dict[str, str]
) -> list[list[tuple[str, str, float | None, str | None]]]:
    """Runs grouped into chains (run in order), longest first; SmartNoise DPCTGAN is one chain
    per dataset in increasing epsilon, every other run a chain of its own."""
    chains: list[list[tuple[str, str, float | None, str | None]]] = []
    for dataset in datasets:
        for system in systems:
            variants: list[str | None] = [None]
            if system in DP_SYSTEMS and dataset in schema_paths:
                variants.append(schema_paths[dataset])
            runs = [
                (dataset, system, eps, schema)
                for eps in epsilons
                for schema in variants
                if not (system in NON_DP_SYSTEMS and eps is not None) and not (system in SN_SYSTEMS and eps is None)
            ]
            if system == "sn-dpctgan":
                chains.append(sorted(runs, key=lambda r: math.inf if r[2] is None else r[2]))
            else:
                chains.extend([run] for run in runs)
    size = {d: len(judge.load(d)[0]) for d in datasets}
    return sorted(chains, key=lambda c: (-EXPECTED_COST.get(c[0][1], 0), -size[c[0][0]]))


if __name__ == "__main__":
    main()
