//! The early-warning signals S1..S5 on every path, and how each path's first
//! firing is judged against the equity drawdown that follows (or does not).
//!
//! Everything streams: a ring of the last few states of the watched series, and
//! rolling sums for the skewness (S2) and the correlations (S4), updated by
//! adding the newest daily change and removing the one that leaves the window.

use crate::model::Lanes;
use crate::scenario::{SignalKind, Signals};

/// Never (a step index that no path reaches).
const NEVER: u32 = u32::MAX;

/// How a path's first firing of a signal turned out, as written in the
/// `signal.<name>.outcome` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum SignalOutcome {
    /// The signal never fired on the path.
    Silent = 0,
    /// The target drawdown first came within the judging window after the firing.
    Hit = 1,
    /// No target drawdown within the window after the firing (the window lies
    /// inside the horizon).
    FalseAlarm = 2,
    /// The target drawdown came before (or with) the first firing.
    Late = 3,
    /// No drawdown yet, but the window runs past the horizon: undecided.
    Open = 4,
}

impl SignalOutcome {
    /// Judges a first firing at step `fired` against the first target drawdown
    /// at step `drawdown` (either may be [`NEVER`]), with a window of `within`
    /// steps and a horizon of `steps`.
    pub fn judge(fired: u32, drawdown: u32, within: usize, steps: usize) -> SignalOutcome {
        if fired == NEVER {
            SignalOutcome::Silent
        } else if drawdown <= fired {
            SignalOutcome::Late
        } else if drawdown != NEVER && (drawdown - fired) as usize <= within {
            SignalOutcome::Hit
        } else if fired as usize + within <= steps {
            SignalOutcome::FalseAlarm
        } else {
            SignalOutcome::Open
        }
    }

    pub fn from_code(code: f64) -> Option<SignalOutcome> {
        Some(match code as u8 {
            0 => SignalOutcome::Silent,
            1 => SignalOutcome::Hit,
            2 => SignalOutcome::FalseAlarm,
            3 => SignalOutcome::Late,
            4 => SignalOutcome::Open,
            _ => return None,
        })
    }
}

/// The per-path columns of the signals: the time of the target drawdown, then per
/// signal its first firing, its lead time (hits only) and its outcome.
pub fn signal_columns(signals: &Signals) -> Vec<String> {
    let mut names = vec!["signal.drawdown_years".to_string()];
    for rule in &signals.rules {
        for figure in ["first_years", "lead_years", "outcome"] {
            names.push(format!("signal.{}.{figure}", rule.name));
        }
    }
    names
}

/// Streaming evaluation of the signals over a batch of lanes.
#[derive(Debug, Clone)]
pub struct SignalTracker {
    count: usize,
    spec: Signals,
    /// The assets whose past states the rules read, and where each sits in `ring`.
    series: Vec<usize>,
    ring_len: usize,
    /// `[(slot * series + s) * count + lane]`: the state at step `slot mod ring_len`.
    ring: Vec<f64>,
    /// Per rule, `[m * count + lane]`: the rolling sums of S2 (3 rows) or S4 (5
    /// rows per paired asset), lane-contiguous so the updates vectorise.
    sums: Vec<Vec<f64>>,
    /// S5: per lane, the step of the last easing (NEVER if none) and the dollar's
    /// and the equity's state at its end.
    easing_step: Vec<u32>,
    easing_dollar: Vec<f64>,
    easing_equity: Vec<f64>,
    peak: Vec<f64>,
    drawdown_step: Vec<u32>,
    /// `[rule * count + lane]`.
    first: Vec<u32>,
    /// Whether each rule holds at the latest state, `[rule * count + lane]`.
    holds: Vec<bool>,
    /// Scratch, reused every step: which lanes a rule fires on, and four rows of
    /// daily changes.
    fired: Vec<bool>,
    scratch: Vec<f64>,
    correlation_total: Vec<f64>,
    /// The equity's log-fall from its peak that is the target drawdown.
    target_fall: f64,
    steps: usize,
}

impl SignalTracker {
    pub fn new(spec: &Signals, count: usize) -> SignalTracker {
        let mut series = vec![spec.equity, spec.dollar];
        let mut watch = |asset: usize| {
            if !series.contains(&asset) {
                series.push(asset);
            }
        };
        for rule in &spec.rules {
            match &rule.kind {
                SignalKind::DollarDownVolUp { implied_vol, .. } => watch(*implied_vol),
                SignalKind::JointSelloff {
                    leader: Some(leader),
                    ..
                } => watch(*leader),
                SignalKind::Correlation { with, .. } => with.iter().for_each(|&(a, _)| watch(a)),
                _ => {}
            }
        }
        // A window of w daily changes reads w + 2 states: the w + 1 it spans and the
        // one before, whose change leaves it.
        let ring_len = spec
            .rules
            .iter()
            .map(|r| r.kind.window())
            .max()
            .unwrap_or(0)
            + 2;
        let sums = spec
            .rules
            .iter()
            .map(|rule| match &rule.kind {
                SignalKind::DollarSkew { .. } => vec![0.0; count * 3],
                SignalKind::Correlation { with, .. } => vec![0.0; count * 5 * with.len()],
                _ => Vec::new(),
            })
            .collect();
        SignalTracker {
            count,
            ring: vec![0.0; ring_len * series.len() * count],
            series,
            ring_len,
            sums,
            easing_step: vec![NEVER; count],
            easing_dollar: vec![0.0; count],
            easing_equity: vec![0.0; count],
            peak: vec![0.0; count],
            drawdown_step: vec![NEVER; count],
            first: vec![NEVER; spec.rules.len() * count],
            holds: vec![false; spec.rules.len() * count],
            fired: vec![false; count],
            scratch: vec![0.0; 4 * count],
            correlation_total: vec![0.0; count],
            target_fall: -(-spec.target_drawdown).ln_1p(),
            spec: spec.clone(),
            steps: 0,
        }
    }

    fn slot(&self, step: usize, asset: usize) -> usize {
        let s = self
            .series
            .iter()
            .position(|&a| a == asset)
            .expect("every watched asset is in the series");
        ((step % self.ring_len) * self.series.len() + s) * self.count
    }

    /// The state of `asset` on every lane at step `step` (within the ring).
    fn at(&self, step: usize, asset: usize) -> &[f64] {
        let start = self.slot(step, asset);
        &self.ring[start..start + self.count]
    }

    /// Starts every lane from the lanes' current state (step 0).
    pub fn start(&mut self, lanes: &Lanes) {
        self.steps = 0;
        self.record(lanes, 0);
        self.sums.iter_mut().for_each(|s| s.fill(0.0));
        self.easing_step.fill(NEVER);
        self.peak.copy_from_slice(lanes.asset(self.spec.equity));
        self.drawdown_step.fill(NEVER);
        self.first.fill(NEVER);
        self.holds.fill(false);
    }

    /// The lanes on which rule `r` holds at the latest state pushed.
    pub fn holds(&self, r: usize) -> &[bool] {
        &self.holds[r * self.count..(r + 1) * self.count]
    }

    fn record(&mut self, lanes: &Lanes, step: usize) {
        for i in 0..self.series.len() {
            let asset = self.series[i];
            let start = self.slot(step, asset);
            self.ring[start..start + self.count].copy_from_slice(lanes.asset(asset));
        }
    }

    /// Evaluates every rule after the model has taken step `t` (state `t + 1`).
    pub fn push(&mut self, lanes: &Lanes, t: usize) {
        let n = t + 1;
        self.steps = n;
        self.record(lanes, n);
        // Taken out for the step so that the rules can be read while the
        // tracker's sums are written.
        let rules = std::mem::take(&mut self.spec.rules);
        let mut fired = std::mem::take(&mut self.fired);
        let mut scratch = std::mem::take(&mut self.scratch);
        for (r, rule) in rules.iter().enumerate() {
            fired.fill(false);
            self.evaluate(&rule.kind, r, lanes, n, &mut fired, &mut scratch);
            self.holds[r * self.count..(r + 1) * self.count].copy_from_slice(&fired);
            let first = &mut self.first[r * self.count..(r + 1) * self.count];
            for (first, &fired) in first.iter_mut().zip(&fired) {
                if fired && *first == NEVER {
                    *first = n as u32;
                }
            }
        }
        self.spec.rules = rules;
        self.fired = fired;
        self.scratch = scratch;
        let x = lanes.asset(self.spec.equity);
        for ((&x, peak), drawdown) in x.iter().zip(&mut self.peak).zip(&mut self.drawdown_step) {
            if x > *peak {
                *peak = x;
            }
            if *drawdown == NEVER && *peak - x >= self.target_fall {
                *drawdown = n as u32;
            }
        }
    }

    /// Marks in `fired` the lanes on which rule `r` holds at step `n`.
    fn evaluate(
        &mut self,
        kind: &SignalKind,
        r: usize,
        lanes: &Lanes,
        n: usize,
        fired: &mut [bool],
        scratch: &mut [f64],
    ) {
        let count = self.count;
        let (equity, dollar) = (self.spec.equity, self.spec.dollar);
        let (entering, rest) = scratch.split_at_mut(count);
        let (leaving, rest) = rest.split_at_mut(count);
        let (other_in, other_out) = rest.split_at_mut(count);
        match *kind {
            SignalKind::DollarDownVolUp {
                window,
                implied_vol,
                dollar_fall,
                vol_rise,
            } => {
                if n >= window {
                    let limit = (-dollar_fall).ln_1p();
                    let (d1, d0) = (self.at(n, dollar), self.at(n - window, dollar));
                    let (v1, v0) = (self.at(n, implied_vol), self.at(n - window, implied_vol));
                    for lane in 0..count {
                        fired[lane] = d1[lane] - d0[lane] <= limit
                            && v0[lane] > 0.0
                            && v1[lane] >= v0[lane] * (1.0 + vol_rise);
                    }
                }
            }
            SignalKind::DollarSkew { window, skew } => {
                self.changes(n, dollar, entering);
                if n > window {
                    self.changes(n - window, dollar, leaving);
                } else {
                    leaving.fill(0.0);
                }
                let (s1, rest) = self.sums[r].split_at_mut(count);
                let (s2, s3) = rest.split_at_mut(count);
                for lane in 0..count {
                    let (x, y) = (entering[lane], leaving[lane]);
                    s1[lane] += x - y;
                    s2[lane] += x * x - y * y;
                    s3[lane] += x * x * x - y * y * y;
                }
                if n >= window {
                    let (w, limit) = (window as f64, -skew);
                    for (lane, fired) in fired.iter_mut().enumerate() {
                        *fired = skewness_at_most(w, [s1[lane], s2[lane], s3[lane]], limit);
                    }
                }
            }
            SignalKind::JointSelloff {
                window,
                dollar_fall,
                equity_fall,
                leader,
            } => {
                if n >= window {
                    let (dollar_limit, equity_limit) =
                        ((-dollar_fall).ln_1p(), (-equity_fall).ln_1p());
                    let (d1, d0) = (self.at(n, dollar), self.at(n - window, dollar));
                    let (e1, e0) = (self.at(n, equity), self.at(n - window, equity));
                    let leader = leader.map(|l| (self.at(n, l), self.at(n - window, l)));
                    for lane in 0..count {
                        let equity_move = e1[lane] - e0[lane];
                        fired[lane] = d1[lane] - d0[lane] <= dollar_limit
                            && equity_move <= equity_limit
                            && leader.is_none_or(|(l1, l0)| l1[lane] - l0[lane] < equity_move);
                    }
                }
            }
            SignalKind::Correlation {
                window,
                ref with,
                correlation,
            } => {
                self.changes(n, equity, entering);
                let has_leaving = n > window;
                if has_leaving {
                    self.changes(n - window, equity, leaving);
                } else {
                    leaving.fill(0.0);
                }
                let w = window as f64;
                let share = 1.0 / with.len() as f64;
                let mut total = std::mem::take(&mut self.correlation_total);
                total.fill(0.0);
                // `fired` first holds "every correlation defined".
                fired.fill(true);
                for (k, &(asset, sign)) in with.iter().enumerate() {
                    self.changes(n, asset, other_in);
                    if has_leaving {
                        self.changes(n - window, asset, other_out);
                    } else {
                        other_out.fill(0.0);
                    }
                    let sums = &mut self.sums[r][k * 5 * count..(k + 1) * 5 * count];
                    let (sa, rest) = sums.split_at_mut(count);
                    let (sb, rest) = rest.split_at_mut(count);
                    let (saa, rest) = rest.split_at_mut(count);
                    let (sbb, sab) = rest.split_at_mut(count);
                    for lane in 0..count {
                        let (a, b) = (entering[lane], sign * other_in[lane]);
                        let (c, d) = (leaving[lane], sign * other_out[lane]);
                        sa[lane] += a - c;
                        sb[lane] += b - d;
                        saa[lane] += a * a - c * c;
                        sbb[lane] += b * b - d * d;
                        sab[lane] += a * b - c * d;
                        let rho = rolling_correlation(
                            w,
                            [sa[lane], sb[lane], saa[lane], sbb[lane], sab[lane]],
                        );
                        fired[lane] &= !rho.is_nan();
                        total[lane] += rho * share;
                    }
                }
                for (fired, &total) in fired.iter_mut().zip(&total) {
                    *fired &= n >= window && total >= correlation;
                }
                self.correlation_total = total;
            }
            SignalKind::EasingBackfires {
                events,
                within,
                dollar_fall,
                equity_fall,
            } => {
                let (dollar_limit, equity_limit) = ((-dollar_fall).ln_1p(), (-equity_fall).ln_1p());
                let (d, e) = (lanes.asset(dollar), lanes.asset(equity));
                for lane in 0..count {
                    if lanes.fired[lane] & events != 0 {
                        self.easing_step[lane] = n as u32;
                        self.easing_dollar[lane] = d[lane];
                        self.easing_equity[lane] = e[lane];
                    } else if self.easing_step[lane] != NEVER
                        && n - self.easing_step[lane] as usize <= within
                    {
                        fired[lane] = d[lane] - self.easing_dollar[lane] <= dollar_limit
                            && e[lane] - self.easing_equity[lane] <= equity_limit;
                    }
                }
            }
        }
    }

    /// The daily change of `asset` into step `n` on every lane (zero at step 0).
    fn changes(&self, n: usize, asset: usize, out: &mut [f64]) {
        if n == 0 {
            out.fill(0.0);
            return;
        }
        let (now, before) = (self.at(n, asset), self.at(n - 1, asset));
        for ((out, a), b) in out.iter_mut().zip(now).zip(before) {
            *out = a - b;
        }
    }

    /// Writes the lanes' signal columns, starting at column `first_column` of each
    /// row (rows are `columns` wide, lane after lane).
    pub fn finish(&self, dt: f64, first_column: usize, columns: usize, rows: &mut [f64]) {
        let years = |step: u32| {
            if step == NEVER {
                f64::NAN
            } else {
                step as f64 * dt
            }
        };
        for lane in 0..self.count {
            let row = &mut rows[lane * columns + first_column..(lane + 1) * columns];
            let drawdown = self.drawdown_step[lane];
            row[0] = years(drawdown);
            for r in 0..self.spec.rules.len() {
                let fired = self.first[r * self.count + lane];
                let outcome =
                    SignalOutcome::judge(fired, drawdown, self.spec.within_steps, self.steps);
                let cells = &mut row[1 + 3 * r..4 + 3 * r];
                cells[0] = years(fired);
                cells[1] = if outcome == SignalOutcome::Hit {
                    (drawdown - fired) as f64 * dt
                } else {
                    f64::NAN
                };
                cells[2] = outcome as u8 as f64;
            }
        }
    }
}

/// Whether the sample skewness of `n` values with sums `m` is at most `limit`
/// (negative), decided without a power: `m3 <= limit m2^1.5` with both sides
/// negative is `m3^2 >= limit^2 m2^3`.
#[inline]
fn skewness_at_most(n: f64, m: [f64; 3], limit: f64) -> bool {
    let mean = m[0] / n;
    let m2 = m[1] / n - mean * mean;
    let m3 = m[2] / n - 3.0 * mean * m[1] / n + 2.0 * mean * mean * mean;
    m2 > 1e-300 && m3 < 0.0 && m3 * m3 >= limit * limit * m2 * m2 * m2
}

/// The sample correlation of `n` pairs from the sums of a, b, a², b², ab; NaN
/// without variation.
fn rolling_correlation(n: f64, m: [f64; 5]) -> f64 {
    let var_a = n * m[2] - m[0] * m[0];
    let var_b = n * m[3] - m[1] * m[1];
    if !(var_a > 0.0 && var_b > 0.0) {
        return f64::NAN;
    }
    ((n * m[4] - m[0] * m[1]) / (var_a * var_b).sqrt()).clamp(-1.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The (biased, moment-ratio) sample skewness `m3 / m2^1.5` of `n` values from
    /// their sums; NaN without variation.
    fn sample_skewness(n: f64, s1: f64, s2: f64, s3: f64) -> f64 {
        let mean = s1 / n;
        let m2 = s2 / n - mean * mean;
        let m3 = s3 / n - 3.0 * mean * s2 / n + 2.0 * mean * mean * mean;
        if m2 > 1e-300 {
            m3 / m2.powf(1.5)
        } else {
            f64::NAN
        }
    }

    #[test]
    fn outcomes_follow_the_definitions() {
        use SignalOutcome::*;
        // Window of 10 steps, horizon of 100.
        let judge = |fired, drawdown| SignalOutcome::judge(fired, drawdown, 10, 100);
        assert_eq!(judge(NEVER, 50), Silent);
        assert_eq!(judge(20, 20), Late);
        assert_eq!(judge(20, 5), Late);
        assert_eq!(judge(20, 21), Hit);
        assert_eq!(judge(20, 30), Hit);
        assert_eq!(judge(20, 31), FalseAlarm);
        assert_eq!(judge(20, NEVER), FalseAlarm);
        assert_eq!(judge(90, NEVER), FalseAlarm);
        assert_eq!(judge(91, NEVER), Open);
        assert_eq!(judge(95, 99), Hit);
    }

    #[test]
    fn skewness_from_sums_matches_the_direct_formula() {
        let values = [0.01, -0.02, 0.005, -0.08, 0.012, 0.0, 0.003];
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let m2 = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        let m3 = values.iter().map(|v| (v - mean).powi(3)).sum::<f64>() / n;
        let direct = m3 / m2.powf(1.5);
        let (s1, s2, s3) = values.iter().fold((0.0, 0.0, 0.0), |(a, b, c), v| {
            (a + v, b + v * v, c + v * v * v)
        });
        assert!((sample_skewness(n, s1, s2, s3) - direct).abs() < 1e-9);
        assert!(direct < -1.0, "one large fall skews the sample left");
        let sums = [s1, s2, s3];
        assert!(skewness_at_most(n, sums, direct + 1e-9));
        assert!(!skewness_at_most(n, sums, direct - 1e-9));
    }
}
