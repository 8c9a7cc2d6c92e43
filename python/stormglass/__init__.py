"""Stormglass from Python: run scenarios, sweeps and calibrations in-process and
get their results as dicts and pandas (or polars) DataFrames.

    import stormglass as sg
    run = sg.run("scenarios/default.toml", paths=50_000, seed=1)
    run.summary["key_numbers"]["p_equity_drawdown"]
    run.paths          # one row per path (pandas)
    run.fan            # the fan chart's percentile bands
    run.report_html()  # the report, self-contained, for a notebook

Tables travel from the engine as Arrow streams and become DataFrames column by
column; the numbers are the command line's, bit for bit, for the same seed.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.ipc as pa_ipc

from . import _native
from ._native import EngineError, InputError, StormglassError

__version__ = _native.__version__
__all__ = [
    "ArgumentError",
    "ArgumentTypeError",
    "Attribution",
    "Calibration",
    "Comparison",
    "EngineError",
    "InputError",
    "ReverseStress",
    "Run",
    "Sensitivity",
    "StormglassError",
    "Sweep",
    "Views",
    "attribute",
    "calibrate_history",
    "calibrate_targets",
    "compare",
    "merge",
    "plan",
    "reverse_stress",
    "run",
    "sensitivity",
    "sweep",
    "task",
    "validate",
    "views",
]

PathLike = Union[str, "os.PathLike[str]"]
Settings = Optional[Mapping[str, Any]]


# The CLI's limits, checked here so that a bad argument raises ValueError or
# TypeError naming the keyword, before anything runs (a negative number would
# otherwise reach the engine as a bare OverflowError).
class ArgumentError(InputError, ValueError):
    """An argument out of the range the CLI takes (the CLI's exit status 2):
    both an InputError and a ValueError, naming the keyword."""

    file = line = key = None
    diagnostics: list = []


class ArgumentTypeError(InputError, TypeError):
    """An argument of a type the call cannot take: both an InputError and a
    TypeError, naming the keyword."""

    file = line = key = None
    diagnostics: list = []


_MAX_PATHS = 2**32 - 1
_MAX_U64 = 2**64 - 1
_MAX_SAMPLE_PATHS = 100_000
_MAX_REGIMES = 5


def _whole(name: str, value: Any, low: int, high: int, *, optional: bool = False) -> Optional[int]:
    """`value` as an int in [low, high], or ValueError/TypeError naming `name`."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise ArgumentTypeError(f"{name} must be a whole number, not {type(value).__name__} {value!r}")
    value = value.__index__()
    if not low <= value <= high:
        raise ArgumentError(f"{name}={value} is out of range; valid: {low} to {high}")
    return value


def _threads(value: Any) -> int:
    limit = _native.thread_limit()
    return _whole("threads", value, 0, limit)


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ArgumentTypeError(f"{name} must be True or False, not {type(value).__name__} {value!r}")
    return value


def _path(name: str, value: Any, *, optional: bool = False) -> Optional[str]:
    if value is None and optional:
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise ArgumentTypeError(f"{name} must be a path (str or os.PathLike), not {type(value).__name__} {value!r}")
    path = os.fspath(value)
    if not isinstance(path, str):
        raise ArgumentTypeError(f"{name} must be a text path, not bytes {path!r}")
    if not path or "\0" in path:
        raise ArgumentError(f"{name}={path!r} is not a file name")
    return path


def _paths(name: str, value: Any) -> list:
    """A path or a sequence of them as a list; a single path is one file,
    not a sequence of one-character names."""
    if value is None:
        return []
    if isinstance(value, (str, os.PathLike)):
        return [_path(name, value)]
    if isinstance(value, (bytes, Mapping)) or not isinstance(value, Iterable):
        raise ArgumentTypeError(f"{name} must be a path or a list of paths, not {type(value).__name__} {value!r}")
    return [_path(f"{name}[{i}]", v) for i, v in enumerate(value)]


def _names(name: str, value: Any, *, optional: bool = False) -> Optional[list]:
    """A name or a sequence of names as a list of str."""
    if value is None:
        return None if optional else []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (bytes, Mapping)) or not isinstance(value, Iterable):
        raise ArgumentTypeError(f"{name} must be a name or a list of names, not {type(value).__name__} {value!r}")
    names = list(value)
    for i, v in enumerate(names):
        if not isinstance(v, str):
            raise ArgumentTypeError(f"{name}[{i}] must be a str, not {type(v).__name__} {v!r}")
    return names


def _mapping(name: str, value: Any) -> Mapping:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ArgumentTypeError(f"{name} must be a dict of scenario keys to values, not {type(value).__name__} {value!r}")
    for key in value:
        if not isinstance(key, str):
            raise ArgumentTypeError(f"{name}: key {key!r} must be a str (a scenario key such as \"assets.spx.vol\")")
    return value


def _value_text(value: Any) -> str:
    """A Python value as the TOML text a `--set KEY=VALUE` takes."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value_text(v) for v in value) + "]"
    raise ArgumentTypeError(f"set: cannot set a scenario key to {value!r}: give a number, string, bool or list")


def _settings(settings: Settings) -> list:
    return [f"{key}={_value_text(value)}" for key, value in _mapping("set", settings).items()]


def _arrow(stream: bytes) -> pa.Table:
    return pa_ipc.open_stream(stream).read_all()


def _to_pandas(table: pa.Table):
    # Dates as datetime64, as pandas and matplotlib expect of a time axis.
    return table.to_pandas(date_as_object=False)


def _to_polars(table: pa.Table):
    try:
        import polars
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("polars is not installed: pip install polars") from error
    return polars.from_arrow(table)


class _Html(str):
    """A page that a notebook shows as HTML and that is still a string."""

    def _repr_html_(self) -> str:
        return str(self)


def validate(path: PathLike) -> dict:
    """Checks a scenario as `stormglass validate` does and returns its facts
    (name, hash, seed, paths, steps, assets, regimes, warnings). Raises
    InputError, with `file`, `line` and `key`, when it is invalid."""
    return json.loads(_native.validate(os.fspath(path)))


class Run:
    """A finished run, held in memory. Every table is built once, on first use."""

    _TABLES = {
        "paths": "paths_metrics",
        "fan": "fan_bands",
        "sample_paths": "sample_paths",
        "strategies": "strategies",
        "strategy_rules": "strategy_rules",
        "strategy_states": "strategy_states",
        "strategy_states_by_step": "strategy_states_by_step",
    }

    def __init__(self, native, scenario: str):
        self._native = native
        self.scenario = scenario
        self._arrow_tables: dict = {}
        self._summary: Optional[dict] = None

    @property
    def summary(self) -> dict:
        """`summary.json`, as a dict."""
        if self._summary is None:
            self._summary = json.loads(self._native.summary_json())
        return self._summary

    def arrow(self, table: str) -> pa.Table:
        """A table as a pyarrow Table: `paths`, `fan`, `sample_paths`, a
        portfolio table (`portfolios`, `positions`, `quantiles`, `losses`) or a
        strategy table (`strategies`, `strategy_rules`, `strategy_states`,
        `strategy_states_by_step`)."""
        if table not in self._arrow_tables:
            if table in self._TABLES:
                self._arrow_tables[table] = _arrow(self._native.table(self._TABLES[table]))
            elif table in ("portfolios", "positions", "quantiles", "losses"):
                text = self._native.portfolio_csv(table)
                self._arrow_tables[table] = (
                    pa_csv.read_csv(io.BytesIO(text.encode())) if text else pa.table({})
                )
            else:
                raise ValueError(
                    f"no table {table!r}: give paths, fan, sample_paths, portfolios, "
                    "positions, quantiles, losses, strategies, strategy_rules, "
                    "strategy_states or strategy_states_by_step"
                )
        return self._arrow_tables[table]

    def polars(self, table: str):
        """A table as a polars DataFrame (polars must be installed)."""
        return _to_polars(self.arrow(table))

    @property
    def paths(self):
        """One row per path: every per-path figure (`paths_metrics`)."""
        return _to_pandas(self.arrow("paths"))

    @property
    def fan(self):
        """One row per date and asset: the level at each percentile (`fan_bands`)."""
        return _to_pandas(self.arrow("fan"))

    @property
    def sample_paths(self):
        """One row per kept path and date: its regime and every asset's level."""
        return _to_pandas(self.arrow("sample_paths"))

    @property
    def portfolios(self):
        """One row per portfolio: P&L distribution, VaR/ES, drawdowns, stresses
        (`portfolios.csv`); empty without portfolios."""
        return _to_pandas(self.arrow("portfolios"))

    @property
    def strategies(self):
        """One row per strategy (a portfolio file with rules) and figure: the
        strategy's value, its buy-and-hold twin's, and their paired difference
        with its standard error and the one two independent runs would have
        (`strategies.csv`); empty without strategies."""
        return _to_pandas(self.arrow("strategies"))

    @property
    def strategy_rules(self):
        """One row per strategy and rule: how often and when it fired, and how
        its first firing stood against the equity's drawdown (`strategy_rules.csv`)."""
        return _to_pandas(self.arrow("strategy_rules"))

    @property
    def strategy_states(self):
        """One row per strategy and state: its targets and the time spent in it
        (`strategy_states.csv`)."""
        return _to_pandas(self.arrow("strategy_states"))

    @property
    def strategy_states_by_step(self):
        """One row per strategy, date and state: the share of paths in the
        state during the step from that date (`strategy_states_by_step.csv`)."""
        return _to_pandas(self.arrow("strategy_states_by_step"))

    @property
    def key_numbers(self) -> dict:
        return self.summary["key_numbers"]

    def report_html(self) -> str:
        """`report.html`, self-contained; a notebook displays it."""
        return _Html(self._native.report_html())

    def write(
        self,
        out: PathLike,
        *,
        force: bool = False,
        format: str = "csv",
        paths_metrics: bool = True,
    ) -> Path:
        """Writes the run's folder as `stormglass run --out` does (`format`:
        csv, parquet or both). An existing folder is replaced only when it is a
        previous run's, or with `force`."""
        self._native.write(os.fspath(out), force, format, paths_metrics)
        return Path(out)

    def _repr_html_(self) -> str:
        k = self.key_numbers
        cell = lambda p: "n/a" if p is None else f"{100 * p:.1f}%"  # noqa: E731
        return (
            f"<p><b>{self.summary['scenario']['name']}</b>: {self.summary['paths']:,} paths, "
            f"seed {self.summary['seed']}. P(equity drawdown) {cell(k.get('p_equity_drawdown'))}, "
            f"P(dollar fall) {cell(k.get('p_dollar_fall'))}, "
            f"P(both) {cell(k.get('p_joint_selloff'))}.</p>"
        )

    def __repr__(self) -> str:
        s = self.summary
        return f"<stormglass.Run {s['scenario']['name']!r}: {s['paths']} paths, seed {s['seed']}>"


def run(
    scenario: PathLike,
    *,
    paths: Optional[int] = None,
    seed: Optional[int] = None,
    sample_paths: Optional[int] = None,
    set: Settings = None,
    portfolios: Sequence[PathLike] = (),
    stresses: Sequence[PathLike] = (),
    no_portfolios: bool = False,
    anchors: Optional[PathLike] = None,
    levels: Optional[PathLike] = None,
    threads: int = 0,
) -> Run:
    """Simulates a scenario as `stormglass run` does; `set` maps scenario keys
    to values (`{"assets.spx.drift": 0.05}`), as `--set` does; `levels` is a
    file of starting levels and their date, as `--levels` takes it. The engine
    runs on `threads` worker threads (0: every core) with the GIL released."""
    native = _native.run(
        _path("scenario", scenario),
        _settings(set),
        _whole("paths", paths, 1, _MAX_PATHS, optional=True),
        _whole("seed", seed, 0, _MAX_U64, optional=True),
        _whole("sample_paths", sample_paths, 0, _MAX_SAMPLE_PATHS, optional=True),
        _paths("portfolios", portfolios),
        _paths("stresses", stresses),
        _flag("no_portfolios", no_portfolios),
        _path("anchors", anchors, optional=True),
        _path("levels", levels, optional=True),
        _threads(threads),
    )
    return Run(native, os.fspath(scenario))


class Comparison:
    """Several runs on the same paths and seed, side by side; with a
    `portfolio` file, that book under every run."""

    def __init__(self, runs: list, portfolio: Optional[str] = None):
        self.runs = runs
        self.portfolio_file = portfolio
        self._portfolio = None
        if portfolio is not None:
            self._portfolio = _native.compare_portfolio(
                [r._native for r in runs], [r.scenario for r in runs], portfolio
            )

    @property
    def key_numbers(self):
        """One row per run, the report's headline figures as columns."""
        import pandas

        rows = []
        for r in self.runs:
            k = {key: v for key, v in r.key_numbers.items() if not isinstance(v, (list, dict))}
            rows.append({"scenario": r.summary["scenario"]["name"], **k})
        return pandas.DataFrame(rows).set_index("scenario")

    @property
    def portfolios(self) -> list:
        """comparison.json's `portfolios`: each portfolio of the `portfolio`
        file, its figures (`portfolio.NAME.es95`, ...) in every run with
        standard errors, and each run's difference from the first with its
        standard error, `paired` saying whether the runs shared their paths
        (empty without a `portfolio` file)."""
        return [] if self._portfolio is None else json.loads(self._portfolio[0])

    @property
    def portfolio_table(self):
        """`portfolio_comparison.csv`: a row per portfolio, figure and run."""
        import io

        import pandas

        if self._portfolio is None:
            raise ValueError("no portfolio compared: give compare(..., portfolio=FILE)")
        return pandas.read_csv(io.StringIO(self._portfolio[1]))

    def report_html(self) -> str:
        """`compare.html`, self-contained."""
        return _Html(
            _native.compare_html(
                [r._native for r in self.runs], [r.scenario for r in self.runs], self.portfolio_file
            )
        )


def compare(
    scenarios: Iterable[Union[PathLike, Run]],
    *,
    paths: int = 10_000,
    seed: Optional[int] = None,
    set: Settings = None,
    threads: int = 0,
    portfolio: Optional[PathLike] = None,
    levels: Optional[PathLike] = None,
) -> Comparison:
    """Runs every scenario on the same paths and seed, as `stormglass compare`
    does (finished Runs are taken as they are). With `portfolio` (a portfolio
    file), each scenario values that book alone, and `Comparison.portfolios`
    sets its figures side by side with each scenario's paired difference from
    the first (a finished Run must have valued the file). `levels` starts
    every scenario file from that levels file, as `--levels` does."""
    _whole("paths", paths, 1, _MAX_PATHS)
    file = _path("portfolio", portfolio, optional=True)
    if isinstance(scenarios, (str, os.PathLike, Run)):
        scenarios = [scenarios]
    runs = []
    for s in scenarios:
        if isinstance(s, Run):
            runs.append(s)
        elif file is None:
            runs.append(run(s, paths=paths, seed=seed, sample_paths=0, set=set, threads=threads, levels=levels))
        else:
            try:
                valued = run(
                    s,
                    paths=paths,
                    seed=seed,
                    sample_paths=0,
                    set=set,
                    threads=threads,
                    portfolios=[file],
                    no_portfolios=True,
                    levels=levels,
                )
            except InputError as e:
                raise InputError(f"scenario {os.fspath(s)}: {e}") from e
            runs.append(valued)
    return Comparison(runs, file)


class Sweep:
    """A finished sweep: every point on the same seed and paths."""

    def __init__(self, native):
        self._native = native
        self.record = json.loads(native.json())

    def arrow(self) -> pa.Table:
        return _arrow(self._native.table())

    @property
    def table(self):
        """One row per point: the swept keys, then every figure and `NAME.se`."""
        return _to_pandas(self.arrow())

    def polars(self):
        return _to_polars(self.arrow())

    def report_html(self) -> str:
        return _Html(self._native.report_html())

    def write(self, out: PathLike, *, force: bool = False, format: str = "csv") -> Path:
        self._native.write(os.fspath(out), force, format)
        return Path(out)


def _axis_text(key: str, values: Any) -> str:
    if isinstance(values, str):
        return f"{key}={values}"
    return f"{key}=" + ",".join(repr(float(v)) if not isinstance(v, int) else str(v) for v in values)


def sweep(
    scenario: PathLike,
    vary: Mapping[str, Any],
    *,
    paths: Optional[int] = None,
    seed: Optional[int] = None,
    set: Settings = None,
    charts: Sequence[str] = (),
    threads: int = 0,
    portfolios: Sequence[PathLike] = (),
    levels: Optional[PathLike] = None,
) -> Sweep:
    """Runs `stormglass sweep`: `vary` maps one or two keys to their values, a
    list or the CLI's `"a:b:n"` text (`{"events.tariff_wave.rate_per_year": "0:3:7"}`).
    The scenario's portfolios and those of `portfolios` (files) are valued at
    every point: their figures (`portfolio.NAME.es95`, ...) are swept too."""
    if not isinstance(vary, Mapping):
        raise ArgumentTypeError(f"vary must be a dict of one or two keys to their values, not {type(vary).__name__} {vary!r}")
    native = _native.sweep(
        _path("scenario", scenario),
        [_axis_text(k, v) for k, v in vary.items()],
        _settings(set),
        _whole("paths", paths, 1, _MAX_PATHS, optional=True),
        _whole("seed", seed, 0, _MAX_U64, optional=True),
        _threads(threads),
        _names("charts", charts),
        _paths("portfolios", portfolios),
        _path("levels", levels, optional=True),
    )
    return Sweep(native)


class _Page:
    """What a finished sensitivity or attribution shows and writes."""

    def report_html(self) -> str:
        return _Html(self._native.report_html())

    def write(self, out: PathLike, *, force: bool = False) -> Path:
        self._native.write(os.fspath(out), force)
        return Path(out)


class Sensitivity(_Page):
    """A finished sensitivity: each key bumped down and up by a share of its
    value, one at a time, every run on the same seed and paths. `record` is
    its `sensitivity.json`."""

    def __init__(self, native):
        self._native = native
        self.record = json.loads(native.json())

    @property
    def table(self):
        """`sensitivity.csv`: a row per figure and key, ranked by the swing,
        the figure at the key's down, own and up values with standard errors."""
        import io

        import pandas as pd

        return pd.read_csv(io.StringIO(self._native.csv()))


def sensitivity(
    scenario: PathLike,
    keys: Optional[Sequence[str]] = None,
    *,
    bump: float = 0.1,
    figures: Sequence[str] = (),
    paths: Optional[int] = None,
    seed: Optional[int] = None,
    set: Settings = None,
    threads: int = 0,
    portfolios: Sequence[PathLike] = (),
    levels: Optional[PathLike] = None,
) -> Sensitivity:
    """Runs `stormglass sensitivity`: `keys` (None: every coupling of the
    thesis blocks the scenario has) bumped down and up by `bump` of their
    value, ranked by their effects on `figures` (default: the key numbers)."""
    if isinstance(bump, bool) or not isinstance(bump, (int, float)):
        raise ArgumentTypeError(f"bump must be a number, not {type(bump).__name__} {bump!r}")
    if not 0 < bump <= 1:
        raise ArgumentError(f"bump={bump} is out of range; valid: above 0 to 1 (a share of each key's value)")
    native = _native.sensitivity(
        _path("scenario", scenario),
        _names("keys", keys, optional=True) or [],
        float(bump),
        _names("figures", figures),
        _settings(set),
        _whole("paths", paths, 1, _MAX_PATHS, optional=True),
        _whole("seed", seed, 0, _MAX_U64, optional=True),
        _threads(threads),
        _paths("portfolios", portfolios),
        _path("levels", levels, optional=True),
    )
    return Sensitivity(native)


def plan(
    scenario: PathLike,
    *,
    shards: int,
    out: PathLike,
    vary: Optional[Mapping[str, Any]] = None,
    charts: Sequence[str] = (),
    paths: Optional[int] = None,
    seed: Optional[int] = None,
    sample_paths: Optional[int] = None,
    set: Settings = None,
    portfolios: Sequence[PathLike] = (),
    stresses: Sequence[PathLike] = (),
    no_portfolios: bool = False,
    anchors: Optional[PathLike] = None,
    levels: Optional[PathLike] = None,
    force: bool = False,
) -> Path:
    """Writes a plan as `stormglass plan` does: the run (or every point of
    `vary`, as `sweep` takes it) cut into `shards` shards, as numbered tasks.
    Returns the manifest's path, for `task` and `merge` (or the CLI's)."""
    if vary is not None and not isinstance(vary, Mapping):
        raise ArgumentTypeError(f"vary must be a dict of one or two keys to their values, not {type(vary).__name__} {vary!r}")
    manifest = _native.plan(
        _path("scenario", scenario),
        _settings(set),
        _whole("paths", paths, 1, _MAX_PATHS, optional=True),
        _whole("seed", seed, 0, _MAX_U64, optional=True),
        _whole("sample_paths", sample_paths, 0, _MAX_SAMPLE_PATHS, optional=True),
        _paths("portfolios", portfolios),
        _paths("stresses", stresses),
        _flag("no_portfolios", no_portfolios),
        _path("anchors", anchors, optional=True),
        _path("levels", levels, optional=True),
        [_axis_text(k, v) for k, v in (vary or {}).items()],
        _names("charts", charts),
        _whole("shards", shards, 1, _MAX_PATHS),
        _path("out", out),
        _flag("force", force),
    )
    return Path(manifest)


def task(manifest: PathLike, index: int, *, threads: int = 0, force: bool = False) -> Path:
    """Runs task `index` of a plan as `stormglass task` does; returns its part
    file. The plan's files are read from the folder it was written in, which
    is the working folder while the task runs."""
    return Path(_native.task(
        _path("manifest", manifest),
        _whole("index", index, 0, _MAX_U64),
        _threads(threads),
        _flag("force", force),
    ))


def merge(
    manifest: PathLike,
    *,
    out: Optional[PathLike] = None,
    force: bool = False,
    threads: int = 0,
    format: str = "csv",
) -> Path:
    """Merges every point of a plan as `stormglass merge` does, into `out`
    (default: the plan's folder): `run/`, or `runs/<point>/` and `sweep/`.
    Returns the folder."""
    return Path(_native.merge(
        _path("manifest", manifest),
        _path("out", out, optional=True),
        _flag("force", force),
        _threads(threads),
        format,
    ))


class Attribution(_Page):
    """A finished attribution: the scenario, each mechanism off and all off
    together, every run on the same seed and paths. `record` is its
    `attribution.json` (with the provenance and the mechanisms' descriptions)."""

    def __init__(self, native):
        self._native = native
        self.record = json.loads(native.json())

    def arrow(self) -> pa.Table:
        return _arrow(self._native.table())

    @property
    def table(self):
        """`attribution.csv`: a row per mechanism (then `all`, `interaction`)
        and figure: `full`, `off`, `difference` (full minus off), its paired
        standard error `se`, `z` and `independent_se`."""
        return _to_pandas(self.arrow())

    def polars(self):
        return _to_polars(self.arrow())


def attribute(
    scenario: PathLike,
    mechanisms: Optional[Sequence[str]] = None,
    paths: Optional[int] = None,
    seed: Optional[int] = None,
    set: Settings = None,
    portfolios: Optional[Sequence[PathLike]] = None,
    *,
    threads: int = 0,
    levels: Optional[PathLike] = None,
) -> Attribution:
    """Runs `stormglass attribute`: which mechanism makes the tail. `mechanisms`
    names those to switch off (None: every one the scenario has), `set` maps
    scenario keys to values as `--set` does, `portfolios` are portfolio files
    whose VaR, ES and mean return are compared too."""
    native = _native.attribute(
        _path("scenario", scenario),
        _names("mechanisms", mechanisms),
        _settings(set),
        _whole("paths", paths, 1, _MAX_PATHS, optional=True),
        _whole("seed", seed, 0, _MAX_U64, optional=True),
        _threads(threads),
        _paths("portfolios", portfolios),
        _path("levels", levels, optional=True),
    )
    return Attribution(native)


def _real(name: str, value: Any, *, optional: bool = False) -> Optional[float]:
    """`value` as a finite float, or TypeError/ValueError naming `name`."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ArgumentTypeError(f"{name} must be a number, not {type(value).__name__} {value!r}")
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise ArgumentError(f"{name}={value} must be a finite number")
    return value


class ReverseStress:
    """A reverse stress test of a finished run. `record` is its
    `reverse_stress.json` (the run's provenance, the breach, the probability
    and its standard error, the medoids, the frontier, the ranked table);
    `common`, `frontier` and `medoids` are its tables as pandas DataFrames."""

    def __init__(self, native):
        self._native = native
        self.record = json.loads(native.json())
        self.probability = self.record["probability"]
        self.standard_error = self.record["standard_error"]
        self.breaching = self.record["breaching"]
        self.paths = self.record["paths"]
        self.enough_paths = self.record["enough_paths"]
        self.advice = self.record["advice"]
        # A run tilted toward the breach: the importance-sampling estimate
        # (probability, standard_error, effective_paths, mean_ratio,
        # mean_ratio_se), the tilt, and the plain run's estimate; else None.
        self.importance_sampling = self.record.get("importance_sampling")
        self.tilt = self.record.get("tilt")
        self.plain_run = self.record.get("plain_run")

    def arrow(self, name: str) -> pa.Table:
        return _arrow(self._native.table(name))

    @property
    def common(self):
        """Every figure's mean given the breach against all paths, with
        standard errors, ranked by the shift in its standard deviations."""
        return _to_pandas(self.arrow("common"))

    @property
    def frontier(self):
        """Thresholds, their probabilities with standard errors, and the
        relative entropy of the tilt that makes each the expectation."""
        return _to_pandas(self.arrow("frontier"))

    @property
    def medoids(self):
        """The representative breaching paths: path, share, figures."""
        return _to_pandas(self.arrow("medoids"))

    def write(self, out: PathLike, *, force: bool = False) -> Path:
        """Writes the folder `stormglass reverse-stress --out` writes: the
        JSON, the tables as CSV (and the ranked one as Parquet), and
        reverse_stress.html with the frontier and the medoids' paths."""
        self._native.write(os.fspath(out), force)
        return Path(out)


def reverse_stress(
    run_dir: PathLike,
    portfolio: Optional[str] = None,
    loss: Optional[float] = None,
    *,
    strategy: Optional[str] = None,
    asset: Optional[str] = None,
    figure: Optional[str] = None,
    at_most: Optional[float] = None,
    at_least: Optional[float] = None,
    on: str = "return",
    medoids: int = 5,
    out: Optional[PathLike] = None,
    force: bool = False,
    tilt: bool = False,
    paths: Optional[int] = None,
    tilted_out: Optional[PathLike] = None,
    threads: int = 0,
) -> ReverseStress:
    """Runs `stormglass reverse-stress` on a finished run's folder: the breach
    is a `portfolio`'s, `strategy`'s or `asset`'s loss of at least `loss`
    (its return, or its drawdown with `on="drawdown"`), or a `figure` (any
    per-path column) `at_most` or `at_least` a threshold. With `out`, also
    writes the folder the command writes (page, charts, CSV and Parquet).
    With `tilt=True`, as `--tilt`: re-runs the scenario tilted toward the
    breach (`paths` paths, the run's by default) into `tilted_out` (by
    default `<run_dir>-tilted`) and reports from it, every figure weighted by
    the paths' likelihood ratios."""
    targets = [(k, v) for k, v in (("portfolio", portfolio), ("strategy", strategy), ("asset", asset), ("figure", figure)) if v is not None]
    if len(targets) != 1:
        raise ArgumentError("give exactly one of portfolio, strategy, asset or figure: what breaches")
    kind, name = targets[0]
    if not isinstance(name, str):
        raise ArgumentTypeError(f"{kind} must be a str, not {type(name).__name__} {name!r}")
    if on not in ("return", "drawdown"):
        raise ArgumentError(f"on={on!r}: valid: 'return', 'drawdown'")
    run_dir = _path("run_dir", run_dir)
    tilted_dir = None
    if _flag("tilt", tilt):
        tilted_dir = _path("tilted_out", tilted_out, optional=True)
        if tilted_dir is None:
            tilted_dir = os.fspath(Path(run_dir).resolve().with_name(Path(run_dir).resolve().name + "-tilted"))
    elif paths is not None or tilted_out is not None:
        raise ArgumentError("paths and tilted_out go with tilt=True")
    native = _native.reverse_stress(
        run_dir,
        kind,
        name,
        _real("loss", loss, optional=True),
        on,
        _real("at_most", at_most, optional=True),
        _real("at_least", at_least, optional=True),
        _whole("medoids", medoids, 0, 20),
        tilted_dir,
        _whole("paths", paths, 1, _MAX_PATHS, optional=True),
        _threads(threads),
        _flag("force", force),
    )
    result = ReverseStress(native)
    if out is not None:
        result.write(out, force=_flag("force", force))
    return result


class Views(_Page):
    """A finished run's paths reweighted to views by entropy pooling, as
    `stormglass views` does. `record` is its `views.json`: each view's prior
    and posterior value and multiplier, the relative entropy, the effective
    number of scenarios and their share, the figures under prior and
    posterior, the warnings, the run's seed and scenario hash and the views
    file's sha256."""

    def __init__(self, native):
        self._native = native
        self.record = json.loads(native.json())

    def arrow(self) -> pa.Table:
        """`posterior.parquet`: `path`, `prior`, `posterior`."""
        return _arrow(self._native.posterior())

    @property
    def posterior(self):
        """Each path's prior and posterior probability, to join to the run's
        per-path table on `path`."""
        return _to_pandas(self.arrow())

    def polars(self):
        return _to_polars(self.arrow())

    @property
    def views(self):
        """`views.csv`: a row per view (a ranking, one per pair): its
        statement, target, confidence, prior and posterior value, multiplier."""
        import pandas as pd

        return pd.DataFrame(self.record["views"])

    @property
    def figures(self):
        """`views_figures.csv`: the key numbers, each viewed column's mean and
        percentiles and each book's return percentiles, VaR, ES and P(loss > x)
        under the prior and the posterior."""
        import pandas as pd

        return pd.DataFrame(self.record["figures"])

    @property
    def relative_entropy(self) -> float:
        return self.record["relative_entropy"]

    @property
    def effective_scenarios(self) -> float:
        return self.record["effective_scenarios"]

    @property
    def warnings(self) -> list:
        return self.record["warnings"]


def views(run: PathLike, views: PathLike, *, point: Optional[str] = None) -> Views:
    """Applies the views file `views` (TOML `[[view]]` tables) to the finished
    run folder `run` (with its per-path table), as `stormglass views` does:
    nothing is simulated again. `run` may instead be a plan's manifest.json
    (or its folder) whose tasks have run: the run is read from their parts
    without merging them, and gives the merged run's outcome; `point` names
    the point of a plan that sweeps (its folder's name in `runs/`)."""
    if point is not None and not isinstance(point, str):
        raise ArgumentTypeError(f"point must be a str (a plan's point), not {type(point).__name__} {point!r}")
    return Views(_native.views(_path("run", run), _path("views", views), point))


class Calibration:
    """A calibration's folder, read: `record` is its `calibration.json`,
    `fitted` the TOML text of `fitted.toml` (the fragment a scenario can
    `extends`, or the child scenario with the fitted values)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.record = json.loads((folder / "calibration.json").read_text())
        self.fitted = (folder / "fitted.toml").read_text()

    def table(self, name: str):
        """A CSV table of the folder as a pandas DataFrame (read through Arrow)."""
        return _to_pandas(pa_csv.read_csv(self.folder / name))

    def files(self) -> list:
        return sorted(p.name for p in self.folder.iterdir() if not p.name.startswith("."))


def _folder(out: Optional[PathLike]) -> Path:
    return Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="stormglass-")) / "out"


def calibrate_history(
    data: PathLike,
    regimes: int,
    *,
    series: Optional[Sequence[str]] = None,
    levels: Optional[Sequence[str]] = None,
    frequency: Optional[str] = None,
    assets: Optional[Mapping[str, str]] = None,
    out: Optional[PathLike] = None,
    force: bool = False,
) -> Calibration:
    """Fits a Markov-switching model to a CSV of history, as `stormglass
    calibrate history` does, into `out` (a new temporary folder by default).
    `assets` maps engine assets to columns as `--as` does
    (`{"spx": "close", "us10y": "dgs10:decimal"}`)."""
    data = _path("data", data)
    regimes = _whole("regimes", regimes, 1, _MAX_REGIMES)
    series = _names("series", series, optional=True)
    levels = _names("levels", levels, optional=True)
    if frequency is not None and not isinstance(frequency, str):
        raise ArgumentTypeError(f"frequency must be a str (daily, weekly, monthly or quarterly), not {type(frequency).__name__} {frequency!r}")
    force = _flag("force", force)
    folder = _folder(_path("out", out, optional=True))
    if assets is not None and not isinstance(assets, Mapping):
        raise ArgumentTypeError(f"assets must be a dict of engine assets to columns, not {type(assets).__name__} {assets!r}")
    for asset, column in (assets or {}).items():
        if not isinstance(asset, str) or not isinstance(column, str):
            raise ArgumentTypeError(f"assets: {asset!r}: {column!r} must map a str (an engine asset, \"spx\") to a str (a column, \"close\")")
    mappings = [f"{asset}={column}" for asset, column in (assets or {}).items()]
    _native.calibrate_history(data, regimes, series, levels, frequency, mappings, os.fspath(folder), force)
    return Calibration(folder)


def calibrate_targets(
    scenario: PathLike,
    targets: PathLike,
    free: Sequence[str],
    *,
    set: Settings = None,
    paths: Optional[int] = None,
    pilot_paths: int = 1_000,
    seed: Optional[int] = None,
    threads: int = 0,
    max_iterations: int = 200,
    refine_iterations: int = 0,
    out: Optional[PathLike] = None,
    force: bool = False,
    portfolios: Sequence[PathLike] = (),
) -> Calibration:
    """Tunes the `free` keys until the run's figures match `targets`, as
    `stormglass calibrate targets` does, into `out`; a target may name a
    portfolio's figure (`portfolio.us_60_40.es95`) of the scenario's
    portfolios or of `portfolios` (files)."""
    scenario = _path("scenario", scenario)
    targets = _path("targets", targets)
    free = _names("free", free)
    settings = _settings(set)
    paths = _whole("paths", paths, 1, _MAX_PATHS, optional=True)
    pilot_paths = _whole("pilot_paths", pilot_paths, 1, _MAX_PATHS)
    seed = _whole("seed", seed, 0, _MAX_U64, optional=True)
    threads = _threads(threads)
    max_iterations = _whole("max_iterations", max_iterations, 0, _MAX_U64)
    refine_iterations = _whole("refine_iterations", refine_iterations, 0, _MAX_U64)
    force = _flag("force", force)
    folder = _folder(_path("out", out, optional=True))
    _native.calibrate_targets(
        scenario,
        targets,
        free,
        settings,
        paths,
        pilot_paths,
        seed,
        threads,
        max_iterations,
        refine_iterations,
        os.fspath(folder),
        force,
        _paths("portfolios", portfolios),
    )
    return Calibration(folder)
