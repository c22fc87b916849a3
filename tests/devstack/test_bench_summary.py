"""`make bench`'s summary table: each figure of the performance issue with the aim it is judged by.
Fed with figures shaped like the benchmarks' results files (their smoke tests check the files)."""

from __future__ import annotations

from benchmarks.suite import rows


def pipeline_run(sales: int, per_stage_s: float, send_s: float) -> dict:
    stages = ("simulate", "land", "load", "transform", "quality", "audience", "copy")
    return {
        "sales": sales,
        "seconds": dict.fromkeys(stages, per_stage_s) | {"send": send_s},
        "total_s": per_stage_s * len(stages) + send_s,
        "peak_mb": {"load": 900.0},
    }


def pipeline(*runs: dict) -> dict:
    return {"runs": list(runs), "linearity": {"aim": 1.5, "growth": {"total": 1.1}}}


def by_figure(results: dict, transform_names: list[str] | None = None) -> dict[str, tuple[str, str, str]]:
    return {
        figure: (measured, aim, met) for _, figure, measured, aim, met in rows(results, transform_names or [])
    }


def test_every_stage_but_sending_is_judged_at_1m_sales_only():
    table = by_figure(
        {"pipeline": pipeline(pipeline_run(100_000, 1.0, 9.0), pipeline_run(1_000_000, 7.0, 180.0))}
    )
    assert table["every stage but sending, 1,000,000 sales"] == ("49.0 s", "≤ 45 s", "**no**")
    assert table["every stage but sending, 100,000 sales"] == ("7.0 s", "", "")
    fast = by_figure({"pipeline": pipeline(pipeline_run(1_000_000, 6.0, 180.0))})
    assert fast["every stage but sending, 1,000,000 sales"] == ("42.0 s", "≤ 45 s", "yes")


def test_a_run_larger_than_1m_is_judged_by_its_cost_per_sale_against_1m():
    one = pipeline_run(1_000_000, 10.0, 130.0)  # 200 s
    ten = pipeline_run(10_000_000, 100.0, 1_700.0)  # 2,400 s: 1.2 times the cost per sale
    table = by_figure({"pipeline": pipeline(one, ten)})
    assert table["cost per sale at 10,000,000 / at 1,000,000 (same run)"] == ("1.20", "≤ 1.2", "yes")
    slower = pipeline_run(10_000_000, 100.0, 1_800.0)
    table = by_figure({"pipeline": pipeline(one, slower)})
    assert table["cost per sale at 10,000,000 / at 1,000,000 (same run)"][2] == "**no**"
    assert not any("(same run)" in figure for figure in by_figure({"pipeline": pipeline(one)}))


def transform(sales: int, incremental_s: float, full_s: float) -> dict:
    return {
        "sales": sales, "history_sales": sales, "day_sales": sales // 50,
        "incremental_day_s": incremental_s, "full_build_s": full_s,
        "incremental_vs_full": incremental_s / full_s,
        "cosmos_group_vs_plain": 2.0, "cosmos_dbt_group_s": 20.0, "plain_day_rerun_s": 10.0,
        "cosmos_dag_vs_plain": 3.0, "cosmos_dag_s": 30.0, "parse_s": {},
    }  # fmt: skip


def test_the_incremental_days_aim_tightens_with_the_history():
    results = {
        "transform-100000": transform(100_000, 15.0, 16.0),
        "transform-1000000": transform(1_000_000, 5.0, 30.0),
        "transform-10000000": transform(10_000_000, 40.0, 338.0),
    }
    table = by_figure(results, list(results))
    assert table["incremental day / full build, 100,000 sales"][1:] == ("≤ 1.0", "yes")
    assert table["incremental day / full build, 1,000,000 sales"][1:] == ("≤ 0.15", "**no**")
    assert table["incremental day / full build, 10,000,000 sales"][1:] == ("≤ 0.1", "**no**")
    results["transform-100000"] = transform(100_000, 17.0, 16.0)  # a day dearer than a full build
    assert by_figure(results, list(results))["incremental day / full build, 100,000 sales"][2] == "**no**"


def test_the_campaigns_send_rates_are_judged_against_their_aims():
    campaign = {
        "audience": 10_000, "llm_calls": 10, "segments": 10, "campaign_vs_bare": 0.85,
        "emails_per_s": 850.0, "bare_smtplib_per_s": 1000.0, "parallel_send_speedup": 1.3,
        "send_2_processes_per_s": 520.0, "send_1_processes_per_s": 400.0,
    }  # fmt: skip
    table = by_figure({"campaign": campaign})
    assert table["e-mails/s through the campaign / bare smtplib loop"][1:] == ("≥ 0.8", "yes")
    assert table["e-mails/s, two send processes at once / one"][1:] == ("≥ 1.6", "**no**")
