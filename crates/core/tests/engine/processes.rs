//! Each block of the model alone (every other block off) against its closed form.
//!
//! Every test pins its seed. Tolerances are 4 standard errors of the estimate
//! (a false alarm rate of about 6e-5 per check for a normal estimator), computed
//! from the simulated sample itself unless stated otherwise.

use crate::common;
use common::*;

const PATHS: u64 = 20_000;
const K: f64 = 4.0;

#[test]
fn gbm_terminal_mean_and_variance_match_the_lognormal() {
    let (mu, sigma, s0): (f64, f64, f64) = (0.05, 0.2, 100.0);
    let s = scenario(&format!(
        "{}[assets.x]\nprocess = \"gbm\"\ninitial = {s0}\ndrift = {mu}\nvol = {sigma}\n",
        header("gbm", 252)
    ));
    let run = run(&s, PATHS, 11, 0, 0);
    let t = 1.0;
    let gross: Vec<f64> = column(&run, "x.terminal_return")
        .iter()
        .map(|r| 1.0 + r)
        .collect();
    for (level, g) in column(&run, "x.terminal_level").iter().zip(&gross) {
        assert!(
            (level - s0 * g).abs() < 1e-12 * level,
            "{level} vs {}",
            s0 * g
        );
    }
    // E[S_T / S_0] = exp(mu T).
    let (mean, se) = mean_and_se(&gross);
    assert_within("E[S_T/S_0]", mean, (mu * t).exp(), se, K);
    // ln(S_T/S_0) ~ N((mu - sigma^2/2) T, sigma^2 T) exactly under the log-Euler step.
    let logs: Vec<f64> = gross.iter().map(|g| g.ln()).collect();
    let (log_mean, log_se) = mean_and_se(&logs);
    assert_within(
        "E[ln S_T/S_0]",
        log_mean,
        (mu - 0.5 * sigma * sigma) * t,
        log_se,
        K,
    );
    // The sample variance of n normals has standard error var * sqrt(2 / (n - 1)).
    let expected_var = sigma * sigma * t;
    let var_se = expected_var * (2.0 / (PATHS as f64 - 1.0)).sqrt();
    assert_within("Var[ln S_T/S_0]", variance(&logs), expected_var, var_se, K);
}

#[test]
fn realised_volatility_of_a_constant_volatility_path_is_unbiased() {
    let sigma: f64 = 0.25;
    let s = scenario(&format!(
        "{}[assets.x]\nprocess = \"gbm\"\ninitial = 1.0\ndrift = 0.1\nvol = {sigma}\n",
        header("vol", 252)
    ));
    let run = run(&s, PATHS, 12, 0, 0);
    let vols = column(&run, "x.realized_vol");
    // The sample variance of the daily log-returns is unbiased for sigma^2 dt, so
    // realised vol squared averages sigma^2 exactly.
    let squares: Vec<f64> = vols.iter().map(|v| v * v).collect();
    let (mean, se) = mean_and_se(&squares);
    assert_within("E[realised vol^2]", mean, sigma * sigma, se, K);
    // Each path's realised vol has sd sigma / sqrt(2 (n - 1)) (n = 252 returns).
    let path_sd = sigma / (2.0 * 251.0f64).sqrt();
    let worst = vols.iter().map(|v| (v - sigma).abs()).fold(0.0, f64::max);
    assert!(
        worst < 6.0 * path_sd,
        "a path's realised vol is {worst} from {sigma}"
    );
}

#[test]
fn heston_mean_variance_follows_its_mean_reversion() {
    // Feller condition 2 kappa theta = 0.16 > xi^2 = 0.09: v rarely reaches 0, so the
    // full-truncation Euler step keeps E[v_{n+1}] = E[v_n] + kappa (theta - E[v_n]) dt,
    // whose solution is theta + (v0 - theta)(1 - kappa dt)^n.
    let (kappa, theta, xi, v0): (f64, f64, f64, f64) = (2.0, 0.04, 0.3, 0.09);
    let s = scenario(&format!(
        "{}[assets.x]\nprocess = \"heston\"\ninitial = 100.0\ninitial_variance = {v0}\nmean_reversion = {kappa}\nlong_run_variance = {theta}\nvol_of_vol = {xi}\n",
        header("heston", 252)
    ));
    let run = run(&s, PATHS, 13, 0, 0);
    let v = column(&run, "x.terminal_variance");
    let (mean, se) = mean_and_se(&v);
    let dt = 1.0 / 252.0;
    let discrete = theta + (v0 - theta) * (1.0 - kappa * dt).powi(252);
    assert_within("E[v_T] (scheme)", mean, discrete, se, K);
    // The continuous closed form theta + (v0 - theta) e^{-kappa T} differs from the
    // scheme's by 5e-5 here, a quarter of the standard error.
    let continuous = theta + (v0 - theta) * (-kappa).exp();
    assert_within("E[v_T] (closed form)", mean, continuous, se, K);
}

#[test]
fn a_floored_heston_variance_keeps_its_mean_and_never_goes_below_the_floor() {
    // u = v - f is a CIR process reverting to theta - f, so E[v] keeps the plain
    // model's recursion. Feller holds for u (2 kappa (theta - f) = 0.12 > xi^2 =
    // 0.09), so the truncation seldom binds and the recursion holds to its
    // standard error.
    let (kappa, theta, xi, v0, f): (f64, f64, f64, f64, f64) = (2.0, 0.04, 0.3, 0.09, 0.01);
    let s = scenario(&format!(
        "{}[assets.x]\nprocess = \"heston\"\ninitial = 100.0\ninitial_variance = {v0}\nmean_reversion = {kappa}\nlong_run_variance = {theta}\nvol_of_vol = {xi}\nvariance_floor = {f}\n",
        header("floored", 252)
    ));
    let run = run(&s, PATHS, 14, 0, 0);
    let v = column(&run, "x.terminal_variance");
    let (mean, se) = mean_and_se(&v);
    let discrete = theta + (v0 - theta) * (1.0 - kappa / 252.0).powi(252);
    assert_within("E[v_T] with a floor", mean, discrete, se, K);
    assert!(v.iter().all(|v| *v >= f));
}

#[test]
fn a_variance_floor_keeps_the_vix_above_its_least_value_when_feller_fails() {
    // 2 kappa theta = 0.15 < xi^2 = 1: plain Heston's variance sits at 0 and its
    // VIX at sqrt(theta (1 - L)) 1.1; with the floor the least VIX is
    // sqrt(theta (1 - L) + f L) 1.1, L = (1 - e^{-kappa tau}) / (kappa tau).
    let (kappa, theta, f): (f64, f64, f64) = (3.0, 0.025, 0.0055);
    let vix_min = |floor: f64| {
        let s = scenario(&format!(
            "{}[assets.spx]\nprocess = \"heston\"\ninitial = 100.0\nmean_reversion = {kappa}\nlong_run_variance = {theta}\nvol_of_vol = 1.0\nvariance_floor = {floor}\n[assets.vix]\nprocess = \"implied_vol\"\nimplied_vol = {{ of = \"spx\", horizon_days = 30, risk_premium = 0.1 }}\n",
            header("vix_floor", 252)
        ));
        let run = run(&s, 2_000, 15, 0, 0);
        column(&run, "vix.min").into_iter().fold(f64::MAX, f64::min)
    };
    let tau = 30.0 / 365.0;
    let loading = (1.0 - (-kappa * tau).exp()) / (kappa * tau);
    let least = |floor: f64| (theta * (1.0 - loading) + floor * loading).sqrt() * 1.1;
    let (plain, floored) = (vix_min(0.0), vix_min(f));
    println!(
        "least VIX: plain {plain:.5} (bound {:.5}), floored {floored:.5} (bound {:.5})",
        least(0.0),
        least(f)
    );
    // Plain Heston reaches its bound (the variance hits 0 on some path) ...
    assert!((plain - least(0.0)).abs() < 1e-12, "{plain}");
    // ... and the floored one reaches its own, above the record close of 9.14.
    assert!((floored - least(f)).abs() < 1e-12, "{floored}");
    assert!(floored > 0.0914);
}

#[test]
fn ornstein_uhlenbeck_exact_mean_and_variance() {
    let (kappa, m, sigma, x0): (f64, f64, f64, f64) = (1.5, 0.03, 0.01, 0.05);
    let s = scenario(&format!(
        "{}[assets.r]\nprocess = \"ou\"\ninitial = {x0}\nmean = {m}\nmean_reversion = {kappa}\nvol = {sigma}\n",
        header("ou", 126)
    ));
    let run = run(&s, PATHS, 14, 0, 0);
    let t = 0.5;
    let levels: Vec<f64> = column(&run, "r.terminal_change")
        .iter()
        .map(|d| x0 + d)
        .collect();
    // The terminal level is its own column, the start plus the change.
    for (level, from_change) in column(&run, "r.terminal_level").iter().zip(&levels) {
        assert!(
            (level - from_change).abs() < 1e-15,
            "{level} vs {from_change}"
        );
    }
    let (mean, se) = mean_and_se(&levels);
    assert_within("E[X_T]", mean, m + (x0 - m) * (-kappa * t).exp(), se, K);
    let expected_var = sigma * sigma * (1.0 - (-2.0 * kappa * t).exp()) / (2.0 * kappa);
    let var_se = expected_var * (2.0 / (PATHS as f64 - 1.0)).sqrt();
    assert_within("Var[X_T]", variance(&levels), expected_var, var_se, K);
}

#[test]
fn merton_jumps_add_their_compensator_to_the_mean() {
    let (mu, sigma, lambda, m, s): (f64, f64, f64, f64, f64) = (0.03, 0.15, 4.0, -0.05, 0.04);
    let sc = scenario(&format!(
        "{}[assets.x]\nprocess = \"gbm\"\ninitial = 1.0\ndrift = {mu}\nvol = {sigma}\njump_intensity = {lambda}\njump_mean = {m}\njump_sd = {s}\n",
        header("merton", 252)
    ));
    let run = run(&sc, PATHS, 15, 0, 0);
    let gross: Vec<f64> = column(&run, "x.terminal_return")
        .iter()
        .map(|r| 1.0 + r)
        .collect();
    // E[S_T/S_0] = exp(mu T + lambda T (e^{m + s^2/2} - 1)) (Merton 1976, drift not compensated).
    let expected = (mu + lambda * ((m + 0.5 * s * s).exp() - 1.0)).exp();
    let (mean, se) = mean_and_se(&gross);
    assert_within("E[S_T/S_0] with jumps", mean, expected, se, K);
    // Var[ln S_T] = sigma^2 T + lambda T (m^2 + s^2). Its standard error from the
    // sample's fourth moment, since jumps make the log-return non-normal.
    let logs: Vec<f64> = gross.iter().map(|g| g.ln()).collect();
    let (log_mean, _) = mean_and_se(&logs);
    let n = logs.len() as f64;
    let m4 = logs.iter().map(|v| (v - log_mean).powi(4)).sum::<f64>() / n;
    let var = variance(&logs);
    let var_se = ((m4 - var * var) / n).sqrt();
    assert_within(
        "Var[ln S_T] with jumps",
        var,
        sigma * sigma + lambda * (m * m + s * s),
        var_se,
        K,
    );
}

#[test]
fn mean_max_drawdown_of_driftless_brownian_motion() {
    // Log-price drift 0 (drift = sigma^2 / 2) makes ln S a driftless Brownian motion,
    // whose expected maximum drawdown over [0, T] is sqrt(pi/2) sigma sqrt(T) under
    // continuous monitoring (Magdon-Ismail et al. 2004). Daily closes miss part of
    // both the peak and the trough; each shifts by about beta sigma sqrt(dt) with
    // beta = -zeta(1/2)/sqrt(2 pi) = 0.5826 (Broadie, Glasserman & Kou 1997), so the
    // daily expectation is about sqrt(pi/2) sigma sqrt(T) - 2 beta sigma sqrt(dt).
    // That correction is first order: at 400,000 paths its residual measured 4.5e-4,
    // 0.6 of this test's standard error.
    let sigma: f64 = 0.2;
    let s = scenario(&format!(
        "{}[assets.x]\nprocess = \"gbm\"\ninitial = 1.0\ndrift = {}\nvol = {sigma}\n",
        header("bm", 252),
        sigma * sigma / 2.0
    ));
    let run = run(&s, PATHS, 16, 0, 0);
    let log_drawdowns: Vec<f64> = column(&run, "x.max_drawdown")
        .iter()
        .map(|d| -(-d).ln_1p())
        .collect();
    let (mean, se) = mean_and_se(&log_drawdowns);
    let beta = 0.582_597_157_939_010_6;
    let continuous = (std::f64::consts::PI / 2.0).sqrt() * sigma;
    let daily = continuous - 2.0 * beta * sigma * (1.0f64 / 252.0).sqrt();
    assert_within("E[max drawdown] (daily)", mean, daily, se, K);
    assert!(
        mean < continuous,
        "discrete monitoring can only miss drawdown"
    );
}

#[test]
fn two_state_chain_occupancy_matches_its_closed_form() {
    let (q_ab, q_ba): (f64, f64) = (2.0, 3.0);
    let s = scenario(&format!(
        "{}[regimes.a]\nintensities = {{ b = {q_ab} }}\n[regimes.b]\nintensities = {{ a = {q_ba} }}\n[regime_chain]\ninitial = \"a\"\n[assets.x]\nprocess = \"gbm\"\ninitial = 1.0\nvol = 0.1\n",
        header("chain", 252)
    ));
    let run = run(&s, PATHS, 17, 0, 0);
    let shares = column(&run, "regime.b.time_share");
    let (mean, se) = mean_and_se(&shares);
    // The per-step chain moves with p = q dt; the regime of step n is b with
    // probability pi (1 - (1 - p_ab - p_ba)^n), pi = p_ab / (p_ab + p_ba).
    let dt = 1.0 / 252.0;
    let (p_ab, p_ba) = (q_ab * dt, q_ba * dt);
    let pi = p_ab / (p_ab + p_ba);
    let discrete: f64 = (0..252)
        .map(|n| pi * (1.0 - (1.0 - p_ab - p_ba).powi(n)))
        .sum::<f64>()
        / 252.0;
    assert_within("E[time share in b] (chain)", mean, discrete, se, K);
    // Continuous time: (1/T) int_0^T pi (1 - e^{-(q_ab + q_ba) t}) dt.
    let q = q_ab + q_ba;
    let continuous = pi * (1.0 - (1.0 - (-q).exp()) / q);
    assert!(
        (discrete - continuous).abs() < 0.01,
        "the per-step chain is within O(dt) of the CTMC"
    );
    // The share of paths in b during the last step against pi (1 - (1 - p)^251).
    let last = run.summary.regime_occupancy.shares["b"][251];
    let p_last = pi * (1.0 - (1.0 - p_ab - p_ba).powi(251));
    let se_last = (p_last * (1.0 - p_last) / PATHS as f64).sqrt();
    assert_within("P(in b at the last step)", last, p_last, se_last, K);
}

#[test]
fn correlation_of_the_drivers_is_recovered() {
    let rho = [[1.0, 0.6, -0.3], [0.6, 1.0, 0.2], [-0.3, 0.2, 1.0]];
    let s = scenario(&format!(
        "{}[correlation]\ndrivers = [\"a\", \"b\", \"c\"]\nmatrix = {rho:?}\n[assets.a]\nprocess = \"gbm\"\ninitial = 1.0\nvol = 0.2\n[assets.b]\nprocess = \"gbm\"\ninitial = 1.0\nvol = 0.1\n[assets.c]\nprocess = \"gbm\"\ninitial = 1.0\nvol = 0.3\n",
        header("corr", 252)
    ));
    let run = run(&s, 2_000, 18, 0, 2_000);
    let samples = &run.simulation.samples;
    let mut returns = vec![Vec::new(); 3];
    for p in 0..samples.paths {
        for t in 1..samples.points {
            for (a, series) in returns.iter_mut().enumerate() {
                series.push((samples.level(p, t, a) / samples.level(p, t - 1, a)).ln());
            }
        }
    }
    let n = returns[0].len() as f64;
    for (i, j) in [(0, 1), (0, 2), (1, 2)] {
        let (mi, _) = mean_and_se(&returns[i]);
        let (mj, _) = mean_and_se(&returns[j]);
        let cov: f64 = returns[i]
            .iter()
            .zip(&returns[j])
            .map(|(x, y)| (x - mi) * (y - mj))
            .sum::<f64>()
            / (n - 1.0);
        let r = cov / (variance(&returns[i]) * variance(&returns[j])).sqrt();
        // Standard error of a sample correlation of normals: (1 - rho^2) / sqrt(n).
        let se = (1.0 - rho[i][j] * rho[i][j]) / n.sqrt();
        assert_within(&format!("corr({i},{j})"), r, rho[i][j], se, K);
    }
}

#[test]
fn results_are_bit_identical_for_any_thread_count() {
    let path = std::path::Path::new(*crate::common::ROOT).join("scenarios/default.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let s = stormglass_core::scenario::load_str(&text, &path).unwrap();
    // 3,000 paths: the 1,000-path pilot and two thousand in the parallel phase.
    let one = run(&s, 3_000, 99, 1, 50);
    let four = run(&s, 3_000, 99, 4, 50);
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(
        bits(&one.simulation.metrics),
        bits(&four.simulation.metrics)
    );
    assert_eq!(one.simulation.occupancy, four.simulation.occupancy);
    assert_eq!(
        one.simulation.samples.levels,
        four.simulation.samples.levels
    );
    let grid = &one.simulation.fan_grid;
    for t in [0, 100, s.steps()] {
        for a in 0..4 {
            let q1 = one.simulation.fan.quantile(grid, t, a, 0.05).to_bits();
            let q4 = four
                .simulation
                .fan
                .quantile(&four.simulation.fan_grid, t, a, 0.05)
                .to_bits();
            assert_eq!(q1, q4);
        }
    }
    let json = |r: &stormglass_core::Run| {
        let mut v = serde_json::to_value(&r.summary).unwrap();
        v.as_object_mut().unwrap().remove("wall_time_seconds");
        v.as_object_mut().unwrap().remove("path_steps_per_second");
        v
    };
    assert_eq!(json(&one), json(&four));
    // And another seed gives other numbers.
    let other = run(&s, 3_000, 100, 2, 50);
    assert_ne!(
        bits(&one.simulation.metrics),
        bits(&other.simulation.metrics)
    );
}

#[test]
fn fan_bands_agree_with_the_exact_quantiles_of_the_paths() {
    // Against a closed form: the terminal quantiles of a GBM are
    // S0 exp((mu - sigma^2/2) T + sigma sqrt(T) z_p). The 5% quantile of n draws has
    // standard error sqrt(p (1 - p) / n) / f(q_p), f the density at the quantile.
    let (mu, sigma): (f64, f64) = (0.05, 0.2);
    let s = scenario(&format!(
        "{}[assets.x]\nprocess = \"gbm\"\ninitial = 1.0\ndrift = {mu}\nvol = {sigma}\n",
        header("fan", 252)
    ));
    let run = run(&s, PATHS, 19, 0, 0);
    let sim = &run.simulation;
    for (p, z) in [
        (0.05, -1.644_853_626_951_472_2),
        (0.5, 0.0),
        (0.95, 1.644_853_626_951_472_2),
    ] {
        let log_q = sim.fan.quantile(&sim.fan_grid, 252, 0, p);
        let expected = (mu - 0.5 * sigma * sigma) + sigma * z;
        let density = (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt() / sigma;
        let se = (p * (1.0 - p) / PATHS as f64).sqrt() / density;
        assert_within(&format!("log quantile {p}"), log_q, expected, se, K);
    }
}

#[test]
fn a_beta_asset_moves_with_its_base_by_its_beta() {
    // silver = 1.4 x gold's daily log-return + its own N(0, 0.1^2 dt) noise, drivers
    // independent. The regression slope of the daily returns estimates the beta with
    // standard error sigma_own / (sigma_gold sqrt(n)).
    let (beta, gold_vol, own_vol): (f64, f64, f64) = (1.4, 0.15, 0.10);
    let s = scenario(&format!(
        "{}[assets.gold]\nprocess = \"gbm\"\ninitial = 4200.0\nvol = {gold_vol}\n[assets.silver]\nprocess = \"beta\"\ninitial = 55.0\nbetas = {{ gold = {beta} }}\nvol = {own_vol}\n",
        header("beta", 252)
    ));
    let run = run(&s, 2_000, 21, 0, 2_000);
    let samples = &run.simulation.samples;
    let (mut gold, mut silver) = (Vec::new(), Vec::new());
    for p in 0..samples.paths {
        for t in 1..samples.points {
            gold.push((samples.level(p, t, 0) / samples.level(p, t - 1, 0)).ln());
            silver.push((samples.level(p, t, 1) / samples.level(p, t - 1, 1)).ln());
        }
    }
    let n = gold.len() as f64;
    let (mg, _) = mean_and_se(&gold);
    let (ms, _) = mean_and_se(&silver);
    let cov: f64 = gold
        .iter()
        .zip(&silver)
        .map(|(g, s)| (g - mg) * (s - ms))
        .sum::<f64>()
        / (n - 1.0);
    let slope = cov / variance(&gold);
    let se = own_vol / (gold_vol * n.sqrt());
    assert_within("beta of silver on gold", slope, beta, se, K);
    // Terminal: Var[ln S_T] = beta^2 sigma_gold^2 T + sigma_own^2 T.
    let logs: Vec<f64> = column(&run, "silver.terminal_return")
        .iter()
        .map(|r| r.ln_1p())
        .collect();
    let expected = beta * beta * gold_vol * gold_vol + own_vol * own_vol;
    let var_se = expected * (2.0 / (logs.len() as f64 - 1.0)).sqrt();
    assert_within("Var[ln silver_T]", variance(&logs), expected, var_se, K);
}

#[test]
fn a_satellite_of_a_satellite_moves_after_its_base() {
    // eurusd = -1.3 x dxy's move, dxy = 0.5 x spx's: eurusd falls by exactly
    // -1.3 x 0.5 of a 10% fall in spx, whatever the order the file lists them in.
    let s = scenario(&format!(
        "{}[assets.eurusd]\nprocess = \"beta\"\ninitial = 1.16\nbetas = {{ dxy = -1.3 }}\n[assets.dxy]\nprocess = \"beta\"\ninitial = 99.5\nbetas = {{ spx = 0.5 }}\n[assets.spx]\nprocess = \"gbm\"\ninitial = 6800.0\nvol = 0.0\n[[events]]\nname = \"fall\"\ndate = 2026-01-20\njumps = {{ spx = {{ mean = -0.1 }} }}\n",
        header("satellites", 20)
    ));
    let run = run(&s, 4, 37, 0, 0);
    for r in column(&run, "eurusd.terminal_return") {
        assert!(
            (r.ln_1p() - (-1.3 * 0.5 * -0.1)).abs() < 1e-6,
            "eurusd moved {r}"
        );
    }
}

#[test]
fn a_beta_asset_takes_its_share_of_the_base_jump_from_an_event() {
    // No noise at all: a dated 10% log fall in gold moves silver by exactly 1.4 times it.
    let s = scenario(&format!(
        "{}[assets.gold]\nprocess = \"gbm\"\ninitial = 4200.0\nvol = 0.0\n[assets.silver]\nprocess = \"beta\"\ninitial = 55.0\nbetas = {{ gold = 1.4 }}\n[[events]]\nname = \"margin_call\"\ndate = 2026-01-20\njumps = {{ gold = {{ mean = -0.1 }} }}\n",
        header("beta_jump", 20)
    ));
    let run = run(&s, 10, 22, 0, 0);
    for r in column(&run, "silver.terminal_return") {
        assert!((r.ln_1p() - 1.4 * -0.1).abs() < 1e-6, "silver moved {r}");
    }
    for r in column(&run, "gold.terminal_return") {
        assert!((r.ln_1p() + 0.1).abs() < 1e-6, "gold moved {r}");
    }
}

#[test]
fn realised_correlation_per_path_overall_and_per_regime() {
    // Two regimes of exactly 126 steps each: `calm` until a dated event forces
    // `stress`, which nothing leaves. The drivers correlate 0.6 in calm, -0.4 in
    // stress. A sample correlation of n normal pairs has mean
    // rho (1 - (1 - rho^2) / (2n)) + O(1/n^2) (Olkin & Pratt 1958); the tolerance is
    // 4 standard errors of the mean over paths, estimated from the paths.
    let text = format!(
        "{}[correlation]\ndrivers = [\"a\", \"b\"]\n[regimes.calm]\ncorrelation_pairs = {{ a = {{ b = 0.6 }} }}\n[regimes.stress]\ncorrelation_pairs = {{ a = {{ b = -0.4 }} }}\n[statistics]\ncorrelations = [[\"a\", \"b\"]]\n[assets.a]\nprocess = \"gbm\"\ninitial = 1.0\nvol = 0.2\n[assets.b]\nprocess = \"ou\"\ninitial = 0.04\nmean = 0.04\nmean_reversion = 0.5\nvol = 0.01\n[[events]]\nname = \"switch\"\ndate = 2026-07-01\nforce_regime = \"stress\"\n",
        header("corr_regimes", 252)
    );
    let s = scenario(&text);
    let run = run(&s, 5_000, 23, 0, 0);
    let stress_steps = column(&run, "regime.stress.time_share")[0] * 252.0;
    assert!(
        (stress_steps - 126.0).abs() < 0.5,
        "stress lasts {stress_steps} steps"
    );
    for (regime, rho) in [("calm", 0.6), ("stress", -0.4)] {
        let values = column(&run, &format!("corr.a.b.{regime}"));
        let (mean, se) = mean_and_se(&values);
        let expected = rho * (1.0 - (1.0 - rho * rho) / (2.0 * 126.0));
        assert_within(
            &format!("E[realised corr | {regime}]"),
            mean,
            expected,
            se,
            K,
        );
    }
    // Overall, the 252 pairs mix both regimes: its mean lies between them.
    let (overall, _) = mean_and_se(&column(&run, "corr.a.b"));
    assert!(overall > -0.4 && overall < 0.6, "overall {overall}");
    let summary = &run.summary.correlations[0];
    assert_eq!(summary.assets, ["a".to_string(), "b".to_string()]);
    assert_eq!(summary.by_regime["stress"].count, 5_000);
}

#[test]
fn a_drawdown_triggered_event_fires_after_its_cooldown_with_regime_dependent_jumps() {
    // No noise: spx falls 0.5/252 in log terms per step, so its drawdown first reaches
    // 10% at the start of step 54 (ln(1/0.9) / (0.5/252) = 53.1). The put then fires
    // every 60 steps while the drawdown stays past 10%: steps 54, 114, 174, 234.
    // In calm it lifts spx by 5% each time; in stress it lifts nothing and sinks the
    // dollar by 2% instead (the sign flip of the Fed put).
    let text = |initial: &str| {
        format!(
            "{}[regimes.calm]\n[regimes.stress]\n[regime_chain]\ninitial = \"{initial}\"\n[assets.spx]\nprocess = \"gbm\"\ninitial = 6800.0\ndrift = -0.5\nvol = 0.0\n[assets.dxy]\nprocess = \"gbm\"\ninitial = 100.0\nvol = 0.0\n[[events]]\nname = \"fed_put\"\ndrawdown_trigger = {{ asset = \"spx\", threshold = 0.10 }}\ncooldown_days = 60\njumps = {{ spx = {{ mean = 0.05 }} }}\njumps_by_regime.stress = {{ spx = {{ mean = 0.0 }}, dxy = {{ mean = -0.02 }} }}\n",
            header("put", 252)
        )
    };
    let calm = run(&scenario(&text("calm")), 4, 24, 0, 0);
    for firings in column(&calm, "event.fed_put.firings") {
        assert_eq!(firings, 4.0);
    }
    for r in column(&calm, "spx.terminal_return") {
        assert!((r.ln_1p() - (-0.5 + 4.0 * 0.05)).abs() < 1e-5, "spx {r}");
    }
    let stress = run(&scenario(&text("stress")), 4, 24, 0, 0);
    for r in column(&stress, "spx.terminal_return") {
        assert!((r.ln_1p() + 0.5).abs() < 1e-5, "spx {r}");
    }
    for r in column(&stress, "dxy.terminal_return") {
        assert!((r.ln_1p() + 4.0 * 0.02).abs() < 1e-5, "dxy {r}");
    }
    // Capped at two firings a path: steps 54 and 114 only.
    let capped = run(
        &scenario(&format!("{}max_firings = 2\n", text("calm"))),
        4,
        24,
        0,
        0,
    );
    for firings in column(&capped, "event.fed_put.firings") {
        assert_eq!(firings, 2.0);
    }
    for r in column(&capped, "spx.terminal_return") {
        assert!((r.ln_1p() - (-0.5 + 2.0 * 0.05)).abs() < 1e-5, "spx {r}");
    }
}

#[test]
fn a_capped_poisson_event_fires_at_most_its_cap() {
    // At 100 arrivals a year the event fires in about a third of the steps
    // (1 - exp(-100/252) = 0.33), so every path reaches its cap of three within
    // the year, and the count of firings stops there; uncapped, the mean count is
    // 252 * 0.328 = 82.7.
    let text = |cap: &str| {
        format!(
            "{}[regimes.calm]\n[regime_chain]\ninitial = \"calm\"\n[assets.spx]\nprocess = \"gbm\"\ninitial = 100.0\nvol = 0.0\n[[events]]\nname = \"wave\"\nrate_per_year = 100.0\njumps = {{ spx = {{ mean = -0.01 }} }}\n{cap}",
            header("wave", 252)
        )
    };
    let capped = run(&scenario(&text("max_firings = 3\n")), 200, 31, 0, 0);
    for firings in column(&capped, "event.wave.firings") {
        assert_eq!(firings, 3.0);
    }
    for r in column(&capped, "spx.terminal_return") {
        assert!((r.ln_1p() + 0.03).abs() < 1e-5, "spx {r}");
    }
    let free = run(&scenario(&text("")), 200, 31, 0, 0);
    assert!(column(&free, "event.wave.firings").iter().all(|&n| n > 3.0));
}

fn flows_scenario(flows: &str, vols: (f64, f64), extra: &str) -> String {
    format!(
        "{}[regimes.calm]\nintensities = {{ stress = 0.5 }}\n[regimes.stress]\nintensities = {{ calm = 2.0 }}\n[assets.spx]\nprocess = \"gbm\"\ninitial = 6800.0\ndrift = -0.3\nvol = {}\n[assets.dxy]\nprocess = \"gbm\"\ninitial = 100.0\ndrift = -0.1\nvol = {}\n{flows}\n{extra}",
        header("flows", 252),
        vols.0,
        vols.1
    )
}

#[test]
fn the_flow_loop_follows_its_recursion_exactly() {
    // No noise: foreign holders' cumulative currency return F sums the daily
    // dln X with a memory of 63 sessions, the pressure P = min(0.2, max(0, -F -
    // threshold)) cuts the drifts by impact * P in the next step. Replayed here
    // step by step.
    let flows = "[flows]\nequity = \"spx\"\ncurrency = \"dxy\"\nhalf_life_days = 63\nthreshold = 0.01\nequity_impact = 5.0\ncurrency_impact = 2.0\n";
    let run = run(
        &scenario(&flows_scenario(flows, (0.0, 0.0), "")),
        3,
        25,
        0,
        0,
    );
    let dt = 1.0 / 252.0;
    let decay = 0.5f64.powf(1.0 / 63.0);
    let (mut s, mut x, mut f, mut p, mut max_p) = (0.0f64, 0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for _ in 0..252 {
        let ds = -0.3 * dt - 5.0 * p * dt;
        let dx = -0.1 * dt - 2.0 * p * dt;
        s += ds;
        x += dx;
        f = decay * f + dx;
        p = (-f - 0.01).clamp(0.0, 0.2);
        max_p = max_p.max(p);
    }
    assert!(max_p > 0.02, "the loop must engage in this test ({max_p})");
    for r in column(&run, "spx.terminal_return") {
        assert!((r.ln_1p() - s).abs() < 1e-5, "spx {} vs {s}", r.ln_1p());
    }
    for r in column(&run, "dxy.terminal_return") {
        assert!((r.ln_1p() - x).abs() < 1e-5, "dxy {} vs {x}", r.ln_1p());
    }
    for m in column(&run, "flows.max_pressure") {
        assert!((m - max_p).abs() < 1e-5);
    }
}

#[test]
fn flows_without_impact_change_nothing_else() {
    let flows = "[flows]\nequity = \"spx\"\ncurrency = \"dxy\"\nthreshold = 0.05\n";
    let with = run(
        &scenario(&flows_scenario(flows, (0.2, 0.08), "")),
        2_000,
        26,
        0,
        0,
    );
    let without = run(
        &scenario(&flows_scenario("", (0.2, 0.08), "")),
        2_000,
        26,
        0,
        0,
    );
    for name in [
        "spx.max_drawdown",
        "dxy.terminal_return",
        "regime.stress.time_share",
    ] {
        assert_eq!(column(&with, name), column(&without, name), "{name}");
    }
}

#[test]
fn the_flow_loop_deepens_the_joint_drawdown() {
    // Same seed, same shocks: only k_S and k_X differ. The paired difference of
    // each path's drawdown has its own standard error; the loop must deepen the
    // mean drawdown of both assets by more than 4 of them.
    let on = "[flows]\nequity = \"spx\"\ncurrency = \"dxy\"\nthreshold = 0.05\nequity_impact = 10.0\ncurrency_impact = 3.0\n";
    let off = "[flows]\nequity = \"spx\"\ncurrency = \"dxy\"\nthreshold = 0.05\n";
    let with = run(
        &scenario(&flows_scenario(on, (0.2, 0.08), "")),
        10_000,
        27,
        0,
        0,
    );
    let without = run(
        &scenario(&flows_scenario(off, (0.2, 0.08), "")),
        10_000,
        27,
        0,
        0,
    );
    for asset in ["spx", "dxy"] {
        let name = format!("{asset}.max_drawdown");
        let differences: Vec<f64> = column(&with, &name)
            .iter()
            .zip(column(&without, &name))
            .map(|(a, b)| a - b)
            .collect();
        let (mean, se) = mean_and_se(&differences);
        println!("{asset}: drawdown deepened by {mean:.4} (se {se:.1e})");
        assert!(mean > 4.0 * se, "{asset}: {mean} vs se {se}");
    }
}

#[test]
fn selling_pressure_raises_the_intensity_into_its_regime() {
    let flows = "[flows]\nequity = \"spx\"\ncurrency = \"dxy\"\nthreshold = 0.05\n";
    let term = "[[regime_chain.state_dependence]]\nfrom = \"calm\"\nto = \"stress\"\nfeature = \"pressure\"\ncoefficient = 20.0\n";
    let with = run(
        &scenario(&flows_scenario(flows, (0.2, 0.08), term)),
        10_000,
        28,
        0,
        0,
    );
    let without = run(
        &scenario(&flows_scenario(flows, (0.2, 0.08), "")),
        10_000,
        28,
        0,
        0,
    );
    let entered = |r: &stormglass_core::Run| r.summary.regimes[1].probability_entered;
    let (p1, p0) = (entered(&with), entered(&without));
    // Two proportions of 10,000 paths: the standard error of their difference.
    let se = (p1 * (1.0 - p1) / 1e4 + p0 * (1.0 - p0) / 1e4).sqrt();
    println!("P(enter stress): {p1:.4} with the pressure term, {p0:.4} without (se {se:.4})");
    assert!(p1 - p0 > 4.0 * se);
}

#[test]
fn implied_vol_follows_the_heston_state() {
    // With no vol of vol the variance follows v' = v + kappa (theta - v) dt exactly;
    // the implied vol over 30 days is sqrt(theta + (v - theta)(1 - e^{-k tau})/(k tau))
    // times (1 + risk premium).
    let (kappa, theta, v0): (f64, f64, f64) = (3.0, 0.04, 0.09);
    let s = scenario(&format!(
        "{}[assets.spx]\nprocess = \"heston\"\ninitial = 100.0\ninitial_variance = {v0}\nmean_reversion = {kappa}\nlong_run_variance = {theta}\nvol_of_vol = 0.0\n[assets.vix]\nprocess = \"implied_vol\"\nimplied_vol = {{ of = \"spx\", horizon_days = 30, risk_premium = 0.1 }}\n",
        header("vix", 60)
    ));
    let run = run(&s, 2, 36, 1, 2);
    let tau = 30.0 / 365.0;
    let loading = (1.0 - (-kappa * tau).exp()) / (kappa * tau);
    let vix = |v: f64| (theta + (v - theta) * loading).sqrt() * 1.1;
    let samples = &run.simulation.samples;
    assert!((samples.level(0, 0, 1) - vix(v0)).abs() < 1e-12);
    let mut v = v0;
    for _ in 0..60 {
        v += kappa * (theta - v) / 252.0;
    }
    assert!(
        (samples.level(0, 60, 1) - vix(v)).abs() < 1e-12,
        "{} vs {}",
        samples.level(0, 60, 1),
        vix(v)
    );
}

#[test]
fn a_higher_valuation_raises_the_jump_frequency() {
    // No diffusion and tiny jumps of exactly -1e-4 in log terms: the count of jumps
    // on a path is its log return / -1e-4, and the valuation barely moves, so the
    // count is Poisson with mean lambda T (V_0 / V_ref)^exponent. Its standard
    // error over n paths is sqrt(mean / n).
    let count = |valuation: f64| {
        let s = scenario(&format!(
            "{}[assets.spx]\nprocess = \"gbm\"\ninitial = 100.0\nvol = 0.0\njump_intensity = 2.0\njump_mean = -0.0001\njump_sd = 0.0\njump_scaling = {{ valuation_initial = {valuation}, valuation_reference = 2.0, exponent = 1.5 }}\n",
            header("valuation", 252)
        ));
        let run = run(&s, 20_000, 39, 0, 0);
        let jumps: Vec<f64> = column(&run, "spx.terminal_return")
            .iter()
            .map(|r| (r.ln_1p() / -0.0001).round())
            .collect();
        mean_and_se(&jumps).0
    };
    for valuation in [2.0, 3.3] {
        let expected = 2.0 * (valuation / 2.0f64).powf(1.5);
        let mean = count(valuation);
        let se = (expected / 20_000.0).sqrt();
        assert_within(
            &format!("jumps a year at a valuation of {valuation}"),
            mean,
            expected,
            se,
            K,
        );
    }
}
