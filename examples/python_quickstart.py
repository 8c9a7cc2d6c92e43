# %% [markdown]
# # Stormglass from Python
#
# A notebook as a script: each `# %%` is a cell (Jupyter, VS Code and
# `jupytext` open it as one). Install the package first, from the repository's
# root, in a fresh virtual environment:
#
#     python3 -m venv .venv && .venv/bin/pip install ./python matplotlib
#     .venv/bin/python examples/python_quickstart.py
#
# It runs the default scenario, draws the S&P 500's fan chart with
# matplotlib, and compares the default scenario with stagflation on the same
# paths and seed. The figure goes to output/python-example/ (pass another
# folder as the first argument).

# %%
import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # a file, not a window; drop this line in a notebook
import matplotlib.pyplot as plt

import stormglass as sg

REPO = Path(__file__).resolve().parents[1]
PATHS = int(os.environ.get("STORMGLASS_EXAMPLE_PATHS", "20000"))
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "output" / "python-example"

# %% [markdown]
# ## One run
# `sg.run` simulates as `stormglass run` does; `set` changes keys for this run
# only, as `--set` does. The summary is `summary.json` as a dict; the tables
# are DataFrames.

# %%
run = sg.run(REPO / "scenarios" / "default.toml", paths=PATHS, seed=1)
key = run.key_numbers
print(run)
print(f"P(S&P drawdown beyond the threshold): {key['p_equity_drawdown']:.1%}")
print(f"P(dollar falls beyond the threshold): {key['p_dollar_fall']:.1%}")
print(run.paths[["spx.max_drawdown", "dxy.terminal_return", "gold.terminal_return"]].describe())

# %% [markdown]
# ## The fan chart
# `run.fan` has one row per date and asset, the level at each percentile.

# %%
spx = run.fan[run.fan["asset"] == "spx"]
fig, ax = plt.subplots(figsize=(9, 4.5))
ax.fill_between(spx["date"], spx["p05"], spx["p95"], alpha=0.2, label="5% to 95%")
ax.fill_between(spx["date"], spx["p25"], spx["p75"], alpha=0.35, label="25% to 75%")
ax.plot(spx["date"], spx["p50"], label="median")
ax.set_title(f"S&P 500 under `{run.summary['scenario']['name']}` ({PATHS:,} paths)")
ax.set_ylabel("index level")
ax.legend(loc="upper left")
OUT.mkdir(parents=True, exist_ok=True)
fig.savefig(OUT / "spx_fan.png", dpi=120, bbox_inches="tight")
print(f"wrote {OUT / 'spx_fan.png'}")

# %% [markdown]
# ## Two scenarios on the same paths
# `sg.compare` runs each on the same seed and paths; `key_numbers` is a table
# with a row per scenario, and `report_html()` is `compare.html`.

# %%
comparison = sg.compare(
    [REPO / "scenarios" / "default.toml", REPO / "scenarios" / "stagflation.toml"],
    paths=PATHS,
    seed=1,
)
columns = ["p_equity_drawdown", "p_dollar_fall", "p_joint_selloff"]
print(comparison.key_numbers[columns].round(3))
# In a notebook: from IPython.display import HTML; HTML(comparison.report_html())
