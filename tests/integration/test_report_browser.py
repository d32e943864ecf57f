"""The HTML report: offline, escaped, audience-filtered, free of real rows, and rendering in a real browser.

The browser tests drive headless Chromium over the DevTools Protocol (``_cdp.py``, a pipe, no
dependency) and skip, saying why, where no Chromium is installed. Screenshots go to the test's
``tmp_path`` and, when writable, to ``reports/test-artifacts/`` (git-ignored).
"""

from __future__ import annotations

import base64
import json
import re
from html import unescape
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tabsynth.audit import AuditConfig, AuditReport, run_audit
from tabsynth.exceptions import ConfigError
from tabsynth.report import render_report, write_report

from ._cdp import Browser, evaluate, find_chromium, open_page

ESCAPED_COLUMN = '<script>alert("x")</script>'
RARE = ("Zyxwopolis", "Qwertyville")
TOP_INCOME, BOTTOM_INCOME = 987654.32, 1234.57
ARTIFACTS = Path(__file__).resolve().parents[2] / "reports" / "test-artifacts"

DECISION: dict[str, Any] = {
    "verdict": "FAIL",
    "released": False,
    "policy": {"name": "partner", "path": "policies/partner.yaml", "sha256": "ab" * 32, "description": "sharing"},
    "rules": [
        {
            "metric": "privacy.mia_auc",
            "bound": "max",
            "threshold": 0.55,
            "hard": True,
            "judged_on": "ci_upper",
            "value": 0.53,
            "ci": [0.50, 0.61],
            "judged_value": 0.61,
            "outcome": "fail",
            "rationale": "membership must not be guessable",
            "advice": "Lower epsilon or train for fewer epochs.",
        },
        {
            "metric": "fidelity.quality",
            "bound": "min",
            "threshold": 0.7,
            "hard": False,
            "judged_on": "value",
            "value": 0.91,
            "ci": None,
            "judged_value": 0.91,
            "outcome": "pass",
            "rationale": "a usable table",
            "advice": None,
        },
    ],
}
NO_DP_CARD: dict[str, Any] = {"generator": "dp-tvae", "epsilon": None, "delta": 1e-5, "is_dp": False, "epochs": 5}
DP_CARD: dict[str, Any] = {
    "generator": "dp-tvae",
    "epsilon": 1.0,
    "delta": 1e-6,
    "is_dp": True,
    "accountant": "rdp",
    "entries": [
        {"label": "counts:label", "epsilon": 0.046, "event": {"type": "gaussian", "noise_multiplier": 20.0}},
        {"label": "dp-sgd", "epsilon": 0.974, "event": {"type": "poisson_gaussian", "steps": 300}},
    ],
}


def _population(n_rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n_rows)
    sex = rng.choice(["F", "M"], n_rows)
    income = np.round(20_000 + 700 * (age - 18) + rng.normal(0, 6_000, n_rows), 2)
    label = np.where(income + rng.normal(0, 5_000, n_rows) > 45_000, "yes", "no")
    return pd.DataFrame(
        {
            "age": age,
            "sex": sex,
            "city": rng.choice(["Paris", "Lyon", "Nice"], n_rows, p=[0.5, 0.3, 0.2]),
            ESCAPED_COLUMN: rng.choice(["a&b", "<i>"], n_rows),
            "income": income,
            "label": label,
        }
    )


@pytest.fixture(scope="module")
def real() -> pd.DataFrame:
    """Training rows with distinctive values: unique incomes, unique extremes, rare cities, ids."""
    frame = _population(300, seed=11)
    frame.loc[0:2, "city"] = RARE[0]  # 3 rows: below min_count
    frame.loc[3, "city"] = RARE[1]  # 1 row
    frame.loc[4, "income"] = TOP_INCOME  # the maximum, one person's value
    frame.loc[5, "income"] = BOTTOM_INCOME  # the minimum
    frame.loc[6, "age"] = 16  # the only 16-year-old
    frame.insert(0, "customer_id", [f"C-{48_000 + 7 * i}" for i in range(len(frame))])
    return frame


@pytest.fixture(scope="module")
def audit(real: pd.DataFrame) -> AuditReport:
    holdout = _population(300, seed=12)
    synthetic = _population(300, seed=13)
    for frame in (holdout, synthetic):
        frame.insert(0, "customer_id", [f"H-{i}" for i in range(len(frame))])
    config = AuditConfig(
        n_attacks=150, singling_out_max_attempts=5_000, n_bootstrap=30, detection_rows=200, mia_rows=100
    )
    return run_audit(real, synthetic, holdout=holdout, target="label", sensitive=["sex", "age"], config=config)


@pytest.fixture(scope="module")
def reports(audit: AuditReport, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    folder = tmp_path_factory.mktemp("reports")
    return {
        "internal": write_report(
            folder / "internal.html", audit=audit, decision=DECISION, privacy=NO_DP_CARD, audience="internal"
        ),
        "partner": write_report(folder / "partner.html", audit=audit, audience="partner"),
    }


def _html(reports: dict[str, tuple[Path, Path]], audience: str) -> str:
    return reports[audience][0].read_text(encoding="utf-8")


# ---- the file itself --------------------------------------------------------------------------
@pytest.mark.parametrize("audience", ["internal", "partner"])
def test_the_page_asks_for_nothing_outside_itself(reports: dict[str, tuple[Path, Path]], audience: str) -> None:
    html = _html(reports, audience)
    assert "http://" not in html and "https://" not in html
    assert "<script" not in html.lower() and "@import" not in html and "@font-face" not in html
    for match in re.finditer(r"""\b(?:src|href)\s*=\s*["']?([^"'\s>]*)""", html, flags=re.IGNORECASE):
        assert match.group(1).startswith(("#", "data:")), match.group(0)
    assert "default-src 'none'" in html


def test_no_training_row_or_rare_value_appears(reports: dict[str, tuple[Path, Path]], real: pd.DataFrame) -> None:
    income_counts = real["income"].value_counts()
    unique_incomes = [float(v) for v, n in income_counts.items() if n == 1]
    assert len(unique_incomes) > 250  # the check below is about many one-person values
    for audience in ("internal", "partner"):
        for text in (_html(reports, audience), reports[audience][1].read_text(encoding="utf-8")):
            for rare in RARE:
                assert rare not in text
            for value in unique_incomes:
                assert f"{value:.2f}" not in text and repr(value) not in text
            assert "987654" not in text and "1234.57" not in text
            assert "[16," not in text  # the youngest person's age as a group edge
            assert not any(cid in text for cid in real["customer_id"])
            for _, row in real.head(50).iterrows():
                assert ",".join(str(v) for v in row.to_numpy()) not in text
                assert f"{row['age']}, {row['sex']}, {row['city']}" not in text


def test_column_names_are_escaped(reports: dict[str, tuple[Path, Path]]) -> None:
    html = _html(reports, "internal")
    assert ESCAPED_COLUMN not in html and "<i>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html or "&lt;script&gt;alert(" in html


def test_render_escapes_every_text_field(audit: AuditReport) -> None:
    html = render_report(
        audit=audit,
        decision={**DECISION, "policy": {"name": "<b>evil</b>", "description": "<img src=x>"}},
        privacy={"generator": "<svg onload=1>", "is_dp": True, "entries": [{"label": "<u>x</u>", "epsilon": 1.0}]},
        title="<h1>t</h1>",
    )
    for raw in ("<b>evil</b>", "<img src=x>", "<svg onload=1>", "<u>x</u>", "<h1>t</h1>"):
        assert raw not in html


def test_partner_sees_no_real_vs_synthetic_figure(reports: dict[str, tuple[Path, Path]]) -> None:
    partner, internal = _html(reports, "partner"), _html(reports, "internal")
    assert 'data-side="real_vs_synthetic"' not in partner
    assert 'data-side="synthetic_only"' in partner
    assert 'data-side="real_vs_synthetic"' in internal
    doc = json.loads(reports["partner"][1].read_text(encoding="utf-8"))
    assert {f["side"] for f in doc["figures"].values()} <= {"synthetic_only", "dp_released"}
    assert doc["fairness"]["groups"] == []  # real group shares are internal only


def test_the_json_beside_holds_the_same_content(reports: dict[str, tuple[Path, Path]], audit: AuditReport) -> None:
    for audience, (html_path, json_path) in reports.items():
        assert json_path == html_path.with_suffix(".json")
        doc = json.loads(json_path.read_text(encoding="utf-8"))
        html = html_path.read_text(encoding="utf-8")
        assert doc["audience"] == audience
        assert f'id="verdict">{doc["verdict"]["status"]}<' in html
        shown = {unescape(f) for f in re.findall(r'data-figure="([^"]+)"', html)}
        assert set(doc["figures"]) <= shown
        shown_names = set(audit.names) - ({"fidelity.trtr_auc"} if audience == "partner" else set())
        assert {m["name"] for rows in doc["metrics"].values() for m in rows} == shown_names
        for name in shown_names:
            assert f"<code>{name}</code>" in html


def test_verdict_rules_and_warnings(reports: dict[str, tuple[Path, Path]]) -> None:
    internal, partner = _html(reports, "internal"), _html(reports, "partner")
    assert 'id="blocked"' in internal and 'id="verdict">FAIL<' in internal
    assert "Lower epsilon or train for fewer epochs." in internal
    assert "trained without differential privacy" in internal
    assert 'id="verdict">NOT GATED<' in partner and 'id="blocked"' not in partner
    assert "No privacy card was supplied" in partner


def test_bad_arguments_are_config_errors(audit: AuditReport, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="audience"):
        render_report(audit=audit, audience="public")
    with pytest.raises(ConfigError, match="verdict"):
        render_report(audit=audit, decision={"verdict": "MAYBE"})
    with pytest.raises(ConfigError, match=".json"):
        write_report(tmp_path / "r.json", audit=audit)


def test_report_without_figures_or_fairness_still_renders(audit: AuditReport) -> None:
    bare = AuditReport(metrics=tuple(m for m in audit.metrics if not m.name.startswith("fairness.")), meta=audit.meta)
    html = render_report(audit=bare, audience="internal")
    assert 'id="no-fairness"' in html and 'data-side="real_vs_synthetic"' not in html


# ---- in a real browser ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        pytest.skip("no Chromium found (looked for /usr/bin/chromium, chromium, chromium-browser, google-chrome)")
    return path


def _save(name: str, data: bytes, tmp_path: Path) -> Path:
    out = tmp_path / name
    out.write_bytes(data)
    try:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / name).write_bytes(data)
    except OSError:
        pass  # a read-only checkout keeps the copy in tmp_path only
    return out


_PLOT_CHECK = """(() => Array.from(document.querySelectorAll('svg.plot')).map(s => {
  const r = s.getBoundingClientRect();
  return {w: r.width, h: r.height, children: s.childElementCount,
          drawn: s.querySelectorAll('rect,polyline,circle,line').length};
}))()"""
_VERDICT_CHECK = """(() => { const e = document.getElementById('verdict'); const r = e.getBoundingClientRect();
  const s = getComputedStyle(e);
  return {text: e.textContent.trim(), w: r.width, h: r.height,
          visible: s.visibility === 'visible' && s.display !== 'none'};
})()"""


@pytest.mark.parametrize("audience", ["internal", "partner"])
def test_the_report_renders_offline_in_chromium(
    chromium: str, reports: dict[str, tuple[Path, Path]], audience: str, tmp_path: Path
) -> None:
    html_path = reports[audience][0]
    url = html_path.resolve().as_uri()
    with Browser(chromium, tmp_path / "profile") as browser:
        session = open_page(browser, url)
        verdict = evaluate(browser, session, _VERDICT_CHECK)
        plots = evaluate(browser, session, _PLOT_CHECK)
        size = browser.send("Page.getLayoutMetrics", session=session)["cssContentSize"]
        shot = browser.send(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 12_000), "scale": 1},
            },
            session=session,
        )
        pdf = browser.send("Page.printToPDF", {"printBackground": True}, session=session)
        events = list(browser.events)
    requests = [e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"]
    assert requests and all(u == url for u in requests), requests
    errors = [e for e in events if e["method"] == "Runtime.exceptionThrown"]
    errors += [e for e in events if e["method"] == "Runtime.consoleAPICalled" and e["params"]["type"] == "error"]
    errors += [e for e in events if e["method"] == "Log.entryAdded" and e["params"]["entry"]["level"] == "error"]
    assert not errors, errors
    expected = "FAIL" if audience == "internal" else "NOT GATED"
    assert verdict["text"] == expected and verdict["visible"] and verdict["w"] > 0 and verdict["h"] > 0
    assert len(plots) >= (10 if audience == "internal" else 5)
    for plot in plots:
        assert plot["w"] > 0 and plot["h"] > 0 and plot["children"] > 0 and plot["drawn"] > 0, plot
    png = base64.b64decode(shot["data"])
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    assert base64.b64decode(pdf["data"]).startswith(b"%PDF")
    _save(f"report-{audience}.png", png, tmp_path)


def test_the_audit_command_writes_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tabsynth.cli.main import run

    paths = {}
    for name, seed in (("train", 21), ("holdout", 22), ("synth", 23)):
        paths[name] = tmp_path / f"{name}.csv"
        _population(150, seed).drop(columns=[ESCAPED_COLUMN]).to_csv(paths[name], index=False)
    out, report = tmp_path / "audit.json", tmp_path / "out" / "report.html"
    base = ["audit", "--real", str(paths["train"]), "--holdout", str(paths["holdout"]), "--synthetic"]
    base += [str(paths["synth"]), "--target", "label", "--out", str(out)]
    assert run([*base, "--report", str(report), "--audience", "internal"]) == 0, capsys.readouterr()
    doc = json.loads(report.with_suffix(".json").read_text(encoding="utf-8"))
    assert doc["audience"] == "internal" and doc["verdict"]["status"] == "NOT GATED"
    assert "report.html" in capsys.readouterr().out
    assert json.loads(out.read_text())["figures"]
    assert run([*base, "--report", str(tmp_path / "audit.html")]) == 2  # its JSON would overwrite --out
    assert run([*base, "--report", str(report), "--audience", "public"]) == 2


def test_the_ledger_explains_composition_and_shows_each_entrys_epsilon(audit: AuditReport) -> None:
    html = render_report(audit=audit, privacy=DP_CARD, audience="internal")
    text = unescape(re.sub(r"\s+", " ", html))
    assert "compose through the rdp accountant" in text and "not added up by hand" in text
    assert "<td>0.046</td>" in html and "<td>0.974</td>" in html


def test_the_partner_report_shows_no_seed_exact_count_real_model_score_or_judged_value(
    real: pd.DataFrame, tmp_path: Path
) -> None:
    from tabsynth.policy import evaluate_policy, load_policy

    holdout, synthetic = _population(263, seed=12), _population(241, seed=13)
    train = real.drop(columns=["customer_id"]).iloc[:287]
    config = AuditConfig(n_attacks=150, singling_out_max_attempts=5_000, n_bootstrap=30, detection_rows=200)
    audit = run_audit(
        train, synthetic, holdout=holdout, target="label", sensitive=["sex"], random_state=48611, config=config
    )
    card = {**DP_CARD, "dp_row_count": 290}
    decision = evaluate_policy(load_policy("partner"), audit, privacy=card).to_dict()
    html_path, json_path = write_report(
        tmp_path / "p.html", audit=audit, decision=decision, privacy=card, audience="partner"
    )
    html, doc = html_path.read_text(encoding="utf-8"), json_path.read_text(encoding="utf-8")
    trtr = audit["fidelity.trtr_auc"]
    assert trtr.value is not None
    for text in (html, doc):
        assert "48611" not in text  # the seed
        for count in ("287", "263"):  # exact row counts of the real tables (the partner holds the 241 synthetic rows)
            assert count not in text, count
        assert "fidelity.trtr_auc" not in text and f"{trtr.value:.3f}" not in text  # no real-model score
        for name in ("privacy.dcr_share", "privacy.mia_auc", "fidelity.tstr_auc"):
            value = audit[name].value
            assert value is not None and f"{value:.3f}" not in text, name  # no judged real-data metric
    assert "290" in html  # the DP row count is what a partner sees
    parsed = json.loads(doc)
    assert all(r["value"] is None and r["judged_value"] is None for r in parsed["verdict"]["rules"])
    outcomes = {"pass", "fail", "insufficient", "unknown", "not_applicable"}  # n/a: no constraint declared
    assert {r["outcome"] for r in parsed["verdict"]["rules"]} <= outcomes
    internal = render_report(audit=audit, decision=decision, privacy=card, audience="internal")
    assert "48611" in internal and f"{trtr.value:.3f}" in internal and 'id="exposure"' in internal
