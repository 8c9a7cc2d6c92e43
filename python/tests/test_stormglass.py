"""The Python package against the command line: the same seed gives the same
numbers bit for bit, tables arrive typed, errors carry file, line and key.

The CLI binary is `$STORMGLASS_BIN`, or the repository's release build
(`cargo build --release` makes it; `.ci/run` runs these after `cargo test --release`).
"""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import stormglass as sg

REPO = Path(__file__).resolve().parents[2]
DEFAULT = REPO / "scenarios" / "default.toml"
PATHS = 600
SEED = 7


def cli(*args):
    binary = Path(os.environ.get("STORMGLASS_BIN", REPO / "target" / "release" / "stormglass"))
    if not binary.is_file():
        pytest.fail(f"{binary}: no CLI binary; run `cargo build --release` first")
    done = subprocess.run([str(binary), *map(str, args)], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    cli("run", DEFAULT, "--paths", PATHS, "--seed", SEED, "--sample-paths", 5,
        "--set", "assets.spx.drift=0.05", "--format", "both", "--out", out)
    return out


@pytest.fixture(scope="module")
def py_run():
    return sg.run(DEFAULT, paths=PATHS, seed=SEED, sample_paths=5, set={"assets.spx.drift": 0.05})


def decoded(table):
    """`table` with dictionary columns as plain strings: a Parquet reader keeps
    only the dictionary entries a file uses, the engine sends every regime's."""
    for i, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type):
            table = table.set_column(i, field.name, table.column(i).cast(pa.string()))
    return table


def without_timings(summary):
    summary = dict(summary)
    for key in ("wall_time_seconds", "path_steps_per_second"):
        summary.pop(key)
    return summary


def test_a_run_matches_the_cli_bit_for_bit(cli_run, py_run):
    for name, table in [("paths_metrics", "paths"), ("fan_bands", "fan"),
                        ("sample_paths", "sample_paths")]:
        from_cli = decoded(pq.read_table(cli_run / f"{name}.parquet"))
        assert decoded(py_run.arrow(table)).equals(from_cli, check_metadata=True), name
    cli_summary = json.loads((cli_run / "summary.json").read_text())
    assert without_timings(py_run.summary) == without_timings(cli_summary)
    portfolios = pd.read_csv(cli_run / "portfolios.csv")
    pd.testing.assert_frame_equal(py_run.portfolios, portfolios, check_exact=True)


def test_parquet_files_read_in_one_line_and_hold_the_csv_numbers(cli_run):
    metrics = pd.read_parquet(cli_run / "paths_metrics.parquet")
    csv = pd.read_csv(cli_run / "paths_metrics.csv")
    assert list(metrics.columns) == list(csv.columns)
    pd.testing.assert_frame_equal(metrics, csv, check_exact=True, check_dtype=False)
    samples = pl.read_parquet(cli_run / "sample_paths.parquet")
    assert samples.schema["date"] == pl.Date
    assert samples.schema["regime"] == pl.Categorical
    fan = pl.read_parquet(cli_run / "fan_bands.parquet")
    # One fan row per date and asset; five sample paths, one row per date each.
    assert samples.height == 5 * (fan.height // fan["asset"].n_unique())


def test_tables_are_typed_in_pandas_and_polars(py_run):
    assert py_run.paths.shape[0] == PATHS
    assert str(py_run.paths["spx.max_drawdown"].dtype) == "float64"
    assert pd.api.types.is_datetime64_any_dtype(py_run.fan["date"])
    assert isinstance(py_run.sample_paths["regime"].dtype, pd.CategoricalDtype)
    assert set(py_run.sample_paths["regime"].cat.categories) == {
        r["name"] for r in py_run.summary["regimes"]
    }
    fan = py_run.polars("fan")
    assert fan.schema["date"] == pl.Date and fan.height == len(py_run.fan)
    assert py_run.summary["settings"][0]["key"] == "assets.spx.drift"


def test_a_strategy_s_tables_hold_its_summary_and_match_the_cli(tmp_path):
    playbook = REPO / "portfolios" / "thesis_playbook.toml"
    run = sg.run(DEFAULT, paths=400, seed=SEED, sample_paths=0, portfolios=[playbook],
                 no_portfolios=True)
    table = run.strategies
    assert list(table.columns) == [
        "strategy", "figure", "hold_figure", "label", "unit", "strategy_value", "strategy_se",
        "hold_value", "hold_se", "difference", "difference_se_paired",
        "difference_se_independent",
    ]
    [summary] = run.summary["strategies"]
    es95 = next(v for v in summary["versus_hold"] if v["name"].endswith(".es95"))
    row = table[table["figure"] == "strategy.thesis_playbook.es95"].iloc[0]
    assert row["difference"] == es95["difference"] and row["hold_figure"] == es95["hold_name"]
    assert row["difference_se_paired"] == es95["se"]
    assert len(table) == len(summary["versus_hold"])
    rules = run.strategy_rules
    assert list(rules["rule"]) == [r["name"] for r in summary["rules"]]
    assert rules["fired_share"].tolist() == [r["fired"]["value"] for r in summary["rules"]]
    states = run.strategy_states
    assert list(states["state"]) == ["book", "defensive"]
    by_step = run.strategy_states_by_step
    assert pd.api.types.is_datetime64_any_dtype(by_step["date"])
    assert len(by_step) == 2 * run.summary["steps"]
    # The run folder's CSV is the same table.
    run.write(tmp_path / "run", format="both", paths_metrics=False)
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "run" / "strategies.csv"), table, check_exact=True
    )
    rules_parquet = pd.read_parquet(tmp_path / "run" / "strategy_rules.parquet")
    pd.testing.assert_frame_equal(rules_parquet, rules, check_exact=True)


def test_thread_count_does_not_change_the_numbers():
    one = sg.run(DEFAULT, paths=300, seed=3, threads=1)
    two = sg.run(DEFAULT, paths=300, seed=3, threads=2)
    pd.testing.assert_frame_equal(one.paths, two.paths, check_exact=True)


def test_the_engine_releases_the_gil():
    # While the engine simulates on another thread, this one keeps running
    # Python: a held GIL would stop the count until the run returns.
    finished = threading.Event()
    result = {}

    def work():
        result["run"] = sg.run(DEFAULT, paths=20_000, seed=1, threads=1, no_portfolios=True)
        finished.set()

    worker = threading.Thread(target=work)
    worker.start()
    counted = 0
    while not finished.is_set():
        counted += 1
    worker.join()
    assert result["run"].summary["paths"] == 20_000
    assert counted > 10_000


def test_errors_carry_file_line_and_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(f'extends = "{DEFAULT.as_posix()}"\n\n[assets.spx]\ndrift = 9.0\n')
    with pytest.raises(sg.InputError) as caught:
        sg.validate(bad)
    error = caught.value
    assert error.file == str(bad) and error.line == 4 and error.key == "assets.spx.drift"
    assert "valid" in str(error) and error.diagnostics[0]["key"] == "assets.spx.drift"
    with pytest.raises(sg.InputError) as caught:
        sg.run(DEFAULT, paths=10, set={"assets.spx.drif": 0.05})
    assert "did you mean `assets.spx.drift`" in str(caught.value)
    with pytest.raises(sg.InputError):
        sg.run(DEFAULT, paths=0)
    assert issubclass(sg.InputError, sg.StormglassError)


def test_a_run_from_the_users_levels_matches_the_cli(tmp_path):
    levels = tmp_path / "closes.csv"
    levels.write_text("asset,level,date\nspx,6850,2026-12-04\nfed_funds,0.03625,2026-12-04\n")
    run = sg.run(DEFAULT, paths=300, seed=SEED, sample_paths=0, levels=levels, no_portfolios=True)
    info = run.summary["scenario"]
    assert info["start_date"] == "2026-12-04" and info["levels"]["as_of"] == "2026-12-04"
    assert any("in force from the first day" in note for note in info["notes"])
    out = tmp_path / "cli"
    cli("run", DEFAULT, "--paths", "300", "--seed", str(SEED), "--sample-paths", "0",
        "--levels", levels, "--out", out, "--no-portfolios")
    from_cli = json.loads((out / "summary.json").read_text())
    assert from_cli["key_numbers"] == run.summary["key_numbers"]
    assert from_cli["assets"] == run.summary["assets"]
    assert from_cli["scenario"]["levels"] == info["levels"]
    levels.write_text("asset,level,date\nspy,6850,2026-12-04\n")
    with pytest.raises(sg.InputError) as caught:
        sg.run(DEFAULT, paths=10, levels=levels)
    assert caught.value.line == 2 and "did you mean `spx`" in str(caught.value)


def test_write_makes_the_cli_folder_and_never_overwrites_a_user_folder(py_run, tmp_path):
    out = py_run.write(tmp_path / "run", format="parquet")
    assert (out / "paths_metrics.parquet").is_file() and (out / "report.html").is_file()
    assert not (out / "paths_metrics.csv").exists()
    py_run.write(out, format="parquet")  # a previous run's folder is replaced
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    with pytest.raises(sg.InputError, match="not a Stormglass run folder"):
        py_run.write(mine)
    assert (mine / "notes.txt").read_text() == "keep"


def test_report_html_is_self_contained(py_run):
    page = py_run.report_html()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page
    assert page._repr_html_() == page


def test_compare_runs_every_scenario_on_the_same_paths():
    comparison = sg.compare([DEFAULT, REPO / "scenarios" / "stagflation.toml"], paths=400, seed=2)
    table = comparison.key_numbers
    assert list(table.index) == ["default", "stagflation"]
    assert all(r.summary["seed"] == 2 and r.summary["paths"] == 400 for r in comparison.runs)
    assert 0.0 <= table.loc["default", "p_equity_drawdown"] <= 1.0
    assert "<svg" in comparison.report_html()


def test_compare_sets_a_portfolio_under_every_scenario_as_the_cli_does(tmp_path):
    book = REPO / "portfolios" / "us_60_40.toml"
    baseline = REPO / "scenarios" / "baseline.toml"
    comparison = sg.compare([DEFAULT, baseline], paths=400, seed=2, portfolio=book)
    cli("compare", DEFAULT, baseline, "--paths", 400, "--seed", 2, "--portfolio", book,
        "--out", tmp_path / "cli")
    from_cli = json.loads((tmp_path / "cli" / "comparison.json").read_text())
    assert comparison.portfolios == from_cli["portfolios"]
    [us_60_40] = comparison.portfolios
    assert us_60_40["paired"] and us_60_40["runs"] == ["default", "baseline"]
    es95 = next(f for f in us_60_40["figures"] if f["name"] == "portfolio.us_60_40.es95")
    assert es95["differences"][0] is None and es95["differences"][1]["se"] > 0
    table = comparison.portfolio_table
    pd.testing.assert_frame_equal(table, pd.read_csv(tmp_path / "cli" / "portfolio_comparison.csv"))
    assert "Portfolio us_60_40 under every scenario" in comparison.report_html()
    with pytest.raises(sg.InputError, match=r"scenario .*gbm\.toml.*unknown asset `gold`"):
        sg.compare([DEFAULT, REPO / "scenarios" / "gbm.toml"], paths=50,
                   portfolio=REPO / "portfolios" / "gold_silver.toml")


def test_sweep_and_sensitivity_measure_a_portfolio_s_figures():
    vary = {"assets.spx.vol_of_vol": [0.3, 0.6]}
    result = sg.sweep(DEFAULT, vary, paths=300, seed=5, charts=["portfolio.us_60_40.es95"])
    for name in ["portfolio.us_60_40.var99", "portfolio.us_60_40.return.p05",
                 "portfolio.us_60_40.drawdown.p95", "portfolio.us_60_40.loss_prob.0.10"]:
        assert name in result.table.columns and f"{name}.se" in result.table.columns
    with pytest.raises(sg.InputError, match=r"no portfolio `us_6040`.*did you mean `us_60_40`"):
        sg.sweep(DEFAULT, vary, paths=50, charts=["portfolio.us_6040.es95"])
    s = sg.sensitivity(DEFAULT, ["assets.spx.jump_intensity"], paths=300, seed=3,
                       figures=["portfolio.us_60_40.es95"])
    assert s.record["figures"] == ["portfolio.us_60_40.es95"]


def test_sweep_matches_the_cli(tmp_path):
    vary = {"assets.spx.drift": [0.04, 0.08]}
    result = sg.sweep(DEFAULT, vary, paths=300, seed=5)
    cli("sweep", DEFAULT, "--vary", "assets.spx.drift=0.04,0.08", "--paths", 300, "--seed", 5,
        "--format", "parquet", "--out", tmp_path / "sweep")
    from_cli = pd.read_parquet(tmp_path / "sweep" / "sweep.parquet")
    pd.testing.assert_frame_equal(result.table, from_cli, check_exact=True)
    assert result.table["assets.spx.drift"].tolist() == [0.04, 0.08]
    means = result.table["spx.return.mean"]
    assert means[0] < means[1]


def test_attribute_matches_the_cli(tmp_path):
    result = sg.attribute(DEFAULT, mechanisms=["fed_put", "tariff_waves"], paths=300, seed=5)
    cli("attribute", DEFAULT, "--mechanisms", "fed_put,tariff_waves", "--paths", 300,
        "--seed", 5, "--out", tmp_path / "attribution")
    from_cli = pd.read_csv(tmp_path / "attribution" / "attribution.csv", keep_default_na=False,
                           na_values=[""])
    table = result.table
    assert list(table.columns) == list(from_cli.columns)
    pd.testing.assert_frame_equal(table, from_cli, check_exact=False, rtol=1e-9, check_dtype=False)
    assert set(table["mechanism"]) == {"fed_put", "tariff_waves", "all", "interaction"}
    assert result.record["seed"] == 5 and result.record["paths"] == 300
    assert "waterfall" in result.report_html()
    with pytest.raises(sg.InputError, match="did you mean `fed_put`"):
        sg.attribute(DEFAULT, mechanisms=["fed_pt"], paths=300)


def test_a_tilted_reverse_stress_is_the_cli_s(cli_run, tmp_path):
    # The re-run's seed is derived from the run's: Python and the CLI make
    # the same tilted run, so their figures agree exactly.
    result = sg.reverse_stress(cli_run, portfolio="us_60_40", loss=0.05, tilt=True,
                               tilted_out=tmp_path / "py-tilted")
    cli("reverse-stress", cli_run, "--portfolio", "us_60_40", "--loss", 0.05, "--tilt",
        "--out", tmp_path / "cli")
    from_cli = json.loads((tmp_path / "cli" / "reverse_stress.json").read_text())
    assert (tmp_path / f"{cli_run.name}-tilted" / "summary.json").is_file()
    assert result.probability == from_cli["probability"]
    assert result.importance_sampling == from_cli["importance_sampling"]
    assert result.tilt == from_cli["tilt"] and result.tilt["regimes"]
    assert result.plain_run["breaching"] == sg.reverse_stress(cli_run, portfolio="us_60_40", loss=0.05).breaching
    ratios = pd.read_parquet(tmp_path / "py-tilted" / "paths_metrics.parquet")["likelihood_ratio"]
    assert result.importance_sampling["mean_ratio"] == pytest.approx(ratios.mean(), rel=1e-12)
    with pytest.raises(ValueError, match="go with tilt=True"):
        sg.reverse_stress(cli_run, portfolio="us_60_40", loss=0.05, paths=100)


def test_reverse_stress_returns_the_cli_s_tables(cli_run, tmp_path):
    result = sg.reverse_stress(cli_run, portfolio="us_60_40", loss=0.05)
    cli("reverse-stress", cli_run, "--portfolio", "us_60_40", "--loss", 0.05,
        "--out", tmp_path / "cli")
    from_cli = json.loads((tmp_path / "cli" / "reverse_stress.json").read_text())
    assert result.probability == from_cli["probability"]
    assert result.standard_error == from_cli["standard_error"]
    assert result.breaching == from_cli["breaching"] and result.paths == PATHS
    # The probability is the share of the run's own paths losing 5% or more.
    pnl = pd.read_csv(cli_run / "paths_metrics.csv")["portfolio.us_60_40.pnl"]
    assert result.breaching == int((pnl <= -0.05).sum())
    assert not result.enough_paths and "--paths" in result.advice
    for name in ("common", "frontier", "medoids"):
        table = getattr(result, name)
        csv = pd.read_csv(tmp_path / "cli" / f"{name}.csv")
        assert list(table.columns) == list(csv.columns)
        pd.testing.assert_frame_equal(table, csv, check_exact=False, rtol=1e-12, check_dtype=False)
    common = result.common
    assert common["shift_sd"].abs().is_monotonic_decreasing
    assert "portfolio.us_60_40.pnl" not in set(common["column"])
    parquet = pq.read_table(tmp_path / "cli" / "common.parquet").to_pandas()
    pd.testing.assert_frame_equal(parquet, common, check_dtype=False)
    written = result.write(tmp_path / "py")
    assert (written / "reverse_stress.html").is_file()
    with pytest.raises(sg.InputError, match="did you mean `us_60_40`"):
        sg.reverse_stress(cli_run, portfolio="us_6040", loss=0.05)
    with pytest.raises(sg.InputError, match="largest loss any path makes"):
        sg.reverse_stress(cli_run, portfolio="us_60_40", loss=0.95)
    with pytest.raises(ValueError, match="exactly one of portfolio"):
        sg.reverse_stress(cli_run, loss=0.05)
    with pytest.raises(TypeError, match="loss must be a number"):
        sg.reverse_stress(cli_run, portfolio="us_60_40", loss="5%")

def test_calibrate_history_matches_the_cli(tmp_path):
    data = REPO / "data" / "history" / "ff_market_monthly.csv"
    fit = sg.calibrate_history(data, 2, series=["mkt"], levels=["mkt"], out=tmp_path / "py")
    cli("calibrate", "history", data, "--regimes", 2, "--series", "mkt", "--levels", "mkt",
        "--out", tmp_path / "cli")
    from_cli = json.loads((tmp_path / "cli" / "calibration.json").read_text())
    for record in (fit.record, from_cli):
        record.pop("command")
    assert fit.record == from_cli
    probabilities = fit.table("smoothed_probabilities.csv")
    pd.testing.assert_frame_equal(
        probabilities,
        pd.read_csv(tmp_path / "cli" / "smoothed_probabilities.csv", parse_dates=["date"]),
        check_exact=True,
        check_dtype=False,
    )
    assert ((probabilities.iloc[:, 1:].sum(axis=1) - 1).abs() < 1e-9).all()


def test_calibrate_history_maps_columns_to_engine_assets_as_the_cli_does(tmp_path):
    data = REPO / "data" / "history" / "sp500.csv"
    column = data.read_text().splitlines()[0].split(",")[1]
    fit = sg.calibrate_history(data, 2, frequency="weekly", assets={"spx": column}, out=tmp_path / "py")
    cli("calibrate", "history", data, "--regimes", 2, "--frequency", "weekly", "--as", f"spx={column}",
        "--out", tmp_path / "cli")
    def body(text):  # the header records the command, which differs
        return [line for line in text.splitlines() if not line.startswith("#")]

    assert body(fit.fitted) == body((tmp_path / "cli" / "fitted.toml").read_text())
    assert "[assets.spx]" in fit.fitted
    with pytest.raises(sg.InputError) as caught:
        sg.calibrate_history(data, 2, assets={"spz": column}, out=tmp_path / "bad")
    assert "did you mean `spx`" in str(caught.value)
    with pytest.raises(TypeError, match="assets"):
        sg.calibrate_history(data, 2, assets=[("spx", column)])


def test_the_notebook_example_runs(tmp_path):
    example = REPO / "examples" / "python_quickstart.py"
    env = dict(os.environ, STORMGLASS_EXAMPLE_PATHS="1000", MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, str(example), str(tmp_path)], env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "spx_fan.png").stat().st_size > 10_000
    assert "stagflation" in done.stdout


def test_threads_are_bounded_as_the_cli_bounds_them():
    limit = sg._native.thread_limit()
    with pytest.raises(ValueError, match=r"threads=10000 is out of range; valid: 0 to"):
        sg.run(DEFAULT, paths=50, threads=10_000)
    with pytest.raises(ValueError, match="threads"):
        sg._native.run(str(DEFAULT), [], 50, None, None, [], [], False, None, None, limit + 1)


def test_bad_arguments_raise_value_or_type_errors_naming_the_keyword(tmp_path):
    """A bounded fuzz of argument values: no crash, and every bad value
    raises ValueError or TypeError whose message names the Python keyword,
    never the CLI's flag (`--paths`) and never a bare OverflowError."""
    import random

    rng = random.Random(2801)
    history = REPO / "data" / "history" / "sp500.csv"
    calls = {
        "run": lambda **kw: sg.run(DEFAULT, **kw),
        "sweep": lambda **kw: sg.sweep(DEFAULT, {"assets.spx.drift": [0.0, 0.1]}, **kw),
        "attribute": lambda **kw: sg.attribute(DEFAULT, **kw),
        "calibrate_history": lambda **kw: sg.calibrate_history(history, **{"regimes": 2, **kw}),
        "calibrate_targets": lambda **kw: sg.calibrate_targets(
            DEFAULT, REPO / "data" / "calibration" / "baseline_targets.toml", ["assets.spx.vol"], **kw
        ),
    }
    arguments = {
        "run": ["paths", "seed", "sample_paths", "threads", "portfolios", "no_portfolios", "set"],
        "sweep": ["paths", "seed", "threads", "charts", "set"],
        "attribute": ["paths", "seed", "threads", "set"],
        "calibrate_history": ["regimes", "series", "levels", "frequency", "force"],
        "calibrate_targets": [
            "paths", "pilot_paths", "seed", "threads", "max_iterations", "refine_iterations", "force", "set",
        ],
    }
    bad = [-1, -(2**70), 2**64, 2**32 + 5, 1.5, "3", b"x", True, float("nan"), object(), 10**6, {1: 2}, [1]]
    checked = 0
    for _ in range(60):
        function = rng.choice(sorted(calls))
        name = rng.choice(arguments[function])
        value = rng.choice(bad)
        if name in ("paths", "pilot_paths") and value == 10**6:
            continue  # a valid count: it would run
        if name in ("seed", "max_iterations", "refine_iterations") and value in (10**6, 2**32 + 5, 2**64 - 1):
            continue
        if name in ("no_portfolios", "force") and value is True:
            continue
        try:
            calls[function](**{name: value})
        except (ValueError, TypeError) as error:
            message = str(error)
            assert name in message, f"{function}({name}={value!r}): {message}"
            assert "--" not in message, f"{function}({name}={value!r}): {message}"
            checked += 1
        except sg.InputError as error:
            message = str(error)
            assert "--" not in message, f"{function}({name}={value!r}): {message}"
            checked += 1
        else:
            pytest.fail(f"{function}({name}={value!r}) was accepted")
    assert checked > 40


def test_paths_beyond_one_run_are_an_input_error_and_a_single_portfolio_is_one_file(tmp_path):
    with pytest.raises(ValueError, match=r"paths=4294967296 is out of range"):
        sg.run(DEFAULT, paths=2**32)
    with pytest.raises(ValueError, match="paths"):
        sg.run(DEFAULT, paths=-1)
    # One path, not a sequence of one-character names.
    with pytest.raises(sg.InputError) as error:
        sg.run(DEFAULT, paths=50, portfolios=str(tmp_path / "x.toml"))
    assert "x.toml" in str(error.value) and "`x`" not in str(error.value)
    # The engine's own refusal of too many paths is an input error too.
    with pytest.raises(sg.InputError):
        sg._native.run(str(DEFAULT), [], 2**32, None, 0, [], [], True, None, None, 1)
    # Messages from the library name keywords, not the CLI's flags.
    with pytest.raises(sg.InputError) as error:
        sg.sweep(DEFAULT, {"assets.spx.drift": [0.0, 0.1]}, paths=50, charts=["spx.retrun.p05"])
    assert "charts" in str(error.value) and "--" not in str(error.value)


def test_ctrl_c_stops_a_fit_within_a_second_and_leaves_nothing(tmp_path):
    """SIGINT while the engine works: KeyboardInterrupt within a second,
    no output folder and no staging folder left."""
    import signal
    import time

    out = tmp_path / "fit"
    script = (
        "import sys, stormglass as sg\n"
        "print('start', flush=True)\n"
        f"sg.calibrate_history({str(REPO / 'data' / 'history' / 'sp500.csv')!r}, 5, out={str(out)!r})\n"
        "print('finished', flush=True)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert child.stdout.readline().strip() == "start"
    time.sleep(2.0)
    assert child.poll() is None, "the fit finished before the interrupt: make it longer"
    sent = time.monotonic()
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=30)
    elapsed = time.monotonic() - sent
    assert "KeyboardInterrupt" in stderr, stderr
    assert elapsed < 1.0, f"stopped {elapsed:.2f} s after the interrupt"
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_sensitivity_matches_the_cli(tmp_path):
    s = sg.sensitivity(DEFAULT, ["assets.spx.jump_intensity"], paths=400, seed=3)
    cli("sensitivity", DEFAULT, "--keys", "assets.spx.jump_intensity", "--paths", 400,
        "--seed", 3, "--out", tmp_path / "cli")
    from_cli = json.loads((tmp_path / "cli" / "sensitivity.json").read_text())
    for record in (s.record, from_cli):
        record.pop("seconds")
        for effect in record["effects"]:
            effect.pop("seconds", None)
    assert s.record["effects"] == from_cli["effects"]
    assert set(s.table["key"]) == {"assets.spx.jump_intensity"}
    assert list(s.table["figure"]) == s.record["figures"]
    s.write(tmp_path / "py")
    assert (tmp_path / "py" / "sensitivity.html").exists()
    with pytest.raises(ValueError, match="bump"):
        sg.sensitivity(DEFAULT, ["assets.spx.jump_intensity"], bump=2.0, paths=10)


def test_a_plan_run_task_by_task_merges_to_the_run_the_cli_makes(tmp_path):
    manifest = sg.plan(DEFAULT, shards=2, paths=600, seed=5, sample_paths=4, out=tmp_path / "plan")
    assert manifest == tmp_path / "plan" / "manifest.json"
    parts = [sg.task(manifest, i) for i in range(2)]
    assert all(p.exists() for p in parts)
    folder = sg.merge(manifest)
    assert folder == tmp_path / "plan"
    cli("run", DEFAULT, "--paths", 600, "--seed", 5, "--sample-paths", 4, "--out", tmp_path / "single")
    merged = json.loads((folder / "run" / "summary.json").read_text())
    single = json.loads((tmp_path / "single" / "summary.json").read_text())
    for record in (merged, single):
        for key in ("wall_time_seconds", "path_steps_per_second"):
            record.pop(key)
    assert merged == single
    other = sg.plan(DEFAULT, shards=2, paths=600, out=tmp_path / "other")
    with pytest.raises(sg.InputError, match="not run"):
        sg.merge(other)


VIEWS = """
[[view]]
name = "dollar falls"
kind = "probability"
column = "dxy.terminal_return"
below = -0.10
equals = 0.40

[[view]]
name = "equities"
kind = "expectation"
column = "spx.terminal_return"
equals = 0.03

[[view]]
name = "gold over equities"
kind = "ranking"
columns = ["gold.terminal_return", "spx.terminal_return"]
"""


def test_views_match_the_cli_and_an_independent_entropy_pooling(tmp_path, cli_run):
    import numpy as np
    from entropy_pooling import ep

    file = tmp_path / "views.toml"
    file.write_text(VIEWS)
    applied = sg.views(cli_run, views=file)
    posterior = applied.posterior
    assert list(posterior.columns) == ["path", "prior", "posterior"]
    assert len(posterior) == PATHS
    q = posterior["posterior"].to_numpy()
    assert abs(q.sum() - 1) < 1e-12

    table = pq.read_table(cli_run / "paths_metrics.parquet").to_pandas()
    dollar = table["dxy.terminal_return"].to_numpy()
    spx = table["spx.terminal_return"].to_numpy()
    gold = table["gold.terminal_return"].to_numpy()
    # The views hold to 1e-9 (the solver's promise), the ranking as an inequality.
    assert abs(q @ (dollar <= -0.10) - 0.40) < 1e-9
    assert abs(q @ spx - 0.03) < 1e-9
    assert q @ (gold - spx) >= -1e-9

    # Fortitudo's entropy-pooling (scipy's TNC on the same dual): the sum to
    # one is its first equality row; G q <= h for the ranking. TNC stops at
    # about 1e-6 of the dual's gradient, so the posteriors agree to that.
    n = len(q)
    p = np.full((n, 1), 1.0 / n)
    A = np.vstack([np.ones(n), (dollar <= -0.10).astype(float), spx])
    b = np.array([[1.0], [0.40], [0.03]])
    G = (spx - gold)[np.newaxis, :]
    h = np.array([[0.0]])
    theirs = ep(p, A, b, G, h)[:, 0]
    assert np.abs(theirs - q).sum() < 1e-4, np.abs(theirs - q).sum()

    # The CLI writes the same posterior, bit for bit.
    out = tmp_path / "cli-views"
    cli("views", cli_run, "--views", file, "--out", out)
    written = pd.read_csv(out / "posterior.csv")
    assert (written["posterior"].to_numpy() == q).all()
    assert applied.record["views_sha256"] == json.loads((out / "views.json").read_text())["views_sha256"]
    assert set(applied.views["view"]) == {"dollar falls", "equities", "gold over equities"}
    figures = applied.figures
    assert {"group", "figure", "prior", "posterior"} <= set(figures.columns)
    assert 0 < applied.effective_scenarios <= PATHS
    assert "<html" in applied.report_html()


def test_views_of_a_plans_parts_equal_the_single_runs(tmp_path, cli_run):
    import numpy as np

    file = tmp_path / "views.toml"
    file.write_text(VIEWS)
    manifest = sg.plan(DEFAULT, shards=3, paths=PATHS, seed=SEED, sample_paths=5,
                       set={"assets.spx.drift": 0.05}, out=tmp_path / "plan")
    for i in range(2):
        sg.task(manifest, i)
    with pytest.raises(sg.InputError, match="task 2 of 3 has not run"):
        sg.views(manifest, views=file)
    sg.task(manifest, 2)
    sharded = sg.views(manifest.parent, views=file)
    assert not (manifest.parent / "run").exists()
    single = sg.views(cli_run, views=file)
    q, r = single.posterior["posterior"].to_numpy(), sharded.posterior["posterior"].to_numpy()
    # 600 paths are one chunk of the solver's sums in the single run and
    # three (one per part) in the plan's: the same sums grouped otherwise,
    # so equal to rounding, far inside 1e-12 of each probability.
    assert np.all(np.abs(q - r) <= 1e-12 * q)
    for key in ("relative_entropy", "effective_scenarios"):
        assert abs(single.record[key] - sharded.record[key]) <= 1e-12 * abs(single.record[key])
    for a, b in zip(single.record["views"], sharded.record["views"]):
        assert abs(a["posterior"] - b["posterior"]) < 1e-12
    assert sharded.record["point"] == "run"
    with pytest.raises(sg.InputError, match="not a plan"):
        sg.views(cli_run, views=file, point="run")
    with pytest.raises(sg.ArgumentTypeError):
        sg.views(manifest, views=file, point=1)


def test_views_refuse_a_bad_file_naming_its_line(tmp_path, cli_run):
    file = tmp_path / "bad.toml"
    file.write_text('[[view]]\nkind = "probability"\ncolumn = "dxy.terminal_retrn"\nbelow = -0.1\nequals = 0.4\n')
    with pytest.raises(sg.InputError) as raised:
        sg.views(cli_run, views=file)
    message = str(raised.value)
    assert "bad.toml:3" in message and "did you mean `dxy.terminal_return`?" in message
    assert raised.value.line == 3 and raised.value.key == "view[0].column"
