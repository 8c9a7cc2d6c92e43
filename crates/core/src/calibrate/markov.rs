//! Markov-switching regression by maximum likelihood:
//! `y_t = B_s' x_t + e_t`, `e_t ~ N(0, Sigma_s)`, with `y_t` a vector of `d`
//! series, `x_t` the `m` regressors (a constant is a column of ones) and the
//! regime `s_t` a K-state Markov chain, `P[i][j] = Pr(s_t = j | s_{t-1} = i)`,
//! started from its ergodic distribution (Hamilton 1989; for one series, the
//! model and conventions of statsmodels' `MarkovRegression`).
//!
//! The likelihood comes from the Hamilton filter, the smoothed probabilities
//! from Kim's smoother. A fit runs EM (Hamilton 1990) from each start, then
//! BFGS (argmin) on the exact likelihood: EM's M-step ignores that the ergodic
//! start depends on `P`, so its fixed point lies a little off the maximum.

use argmin::core::{CostFunction, Executor, Gradient};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::BFGS;
use nalgebra::{DMatrix, DVector};

/// A transition probability below this is on its bound: the fit put it at 0.
pub const AT_BOUND: f64 = 1e-8;

/// The data and the model's shape.
#[derive(Debug, Clone)]
pub struct Regression {
    /// `y[t]`: the `d` series at observation `t`.
    pub y: Vec<Vec<f64>>,
    /// `x[t]`: the `m` regressors at observation `t`.
    pub x: Vec<Vec<f64>>,
    pub regimes: usize,
    /// One covariance per regime, or one shared by all.
    pub switching_covariance: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// `transition[i][j] = Pr(s_t = j | s_{t-1} = i)`.
    pub transition: Vec<Vec<f64>>,
    /// Per regime, `m x d`: column `k` holds series `k`'s coefficients.
    pub coefficients: Vec<DMatrix<f64>>,
    /// Per regime, `d x d` (all equal without switching covariance).
    pub covariances: Vec<DMatrix<f64>>,
}

/// The filter's output.
#[derive(Debug, Clone)]
pub struct Filtered {
    pub log_likelihood: f64,
    /// `[t][j] = Pr(s_t = j | y_1..y_t)`.
    pub filtered: Vec<Vec<f64>>,
    /// `[t][j] = Pr(s_t = j | y_1..y_{t-1})`.
    pub predicted: Vec<Vec<f64>>,
}

/// A maximum-likelihood fit.
#[derive(Debug, Clone)]
pub struct Fit {
    pub params: Params,
    pub log_likelihood: f64,
    pub em_iterations: usize,
    pub bfgs_iterations: u64,
    /// `[t][j] = Pr(s_t = j | all data)`.
    pub smoothed: Vec<Vec<f64>>,
}

/// Per regime, what the density of an observation needs: `L^-1` of the
/// covariance's Cholesky factor `L` and `ln det Sigma`.
struct Gaussian {
    inverse_factor: DMatrix<f64>,
    log_norm: f64,
}

impl Gaussian {
    fn new(covariance: &DMatrix<f64>) -> Option<Gaussian> {
        let d = covariance.nrows();
        let factor = covariance.clone().cholesky()?.l();
        let log_det: f64 = 2.0 * factor.diagonal().iter().map(|v| v.ln()).sum::<f64>();
        let inverse_factor = factor.try_inverse()?;
        let log_norm = -0.5 * (log_det + d as f64 * (2.0 * std::f64::consts::PI).ln());
        log_norm.is_finite().then_some(Gaussian {
            inverse_factor,
            log_norm,
        })
    }

    fn log_density(&self, residual: &[f64]) -> f64 {
        let d = residual.len();
        let mut squares = 0.0;
        for a in 0..d {
            let z: f64 = (0..=a)
                .map(|b| self.inverse_factor[(a, b)] * residual[b])
                .sum();
            squares += z * z;
        }
        self.log_norm - 0.5 * squares
    }
}

impl Regression {
    pub fn observations(&self) -> usize {
        self.y.len()
    }

    pub fn series(&self) -> usize {
        self.y.first().map_or(0, Vec::len)
    }

    pub fn regressors(&self) -> usize {
        self.x.first().map_or(0, Vec::len)
    }

    /// The number of free parameters: the transition matrix's `K (K - 1)`, the
    /// coefficients and the covariances' distinct elements.
    pub fn parameter_count(&self) -> usize {
        let (k, d, m) = (self.regimes, self.series(), self.regressors());
        let covariances = if self.switching_covariance { k } else { 1 };
        k * (k - 1) + k * m * d + covariances * d * (d + 1) / 2
    }

    fn residual(&self, params: &Params, t: usize, j: usize, out: &mut [f64]) {
        let b = &params.coefficients[j];
        for (k, e) in out.iter_mut().enumerate() {
            let mean: f64 = self.x[t]
                .iter()
                .enumerate()
                .map(|(a, x)| x * b[(a, k)])
                .sum();
            *e = self.y[t][k] - mean;
        }
    }

    /// The Hamilton filter; `None` where a covariance is not positive definite,
    /// the chain has no ergodic distribution, or the likelihood is not finite.
    pub fn filter(&self, params: &Params) -> Option<Filtered> {
        // Every step of a fit (EM, BFGS, the Hessian) evaluates this: a fit
        // asked to stop fails from here on.
        if crate::engine::cancel_requested() {
            return None;
        }
        let k = self.regimes;
        let gaussians = params
            .covariances
            .iter()
            .map(Gaussian::new)
            .collect::<Option<Vec<_>>>()?;
        let mut previous = ergodic(&params.transition)?;
        let mut filtered = Vec::with_capacity(self.observations());
        let mut predicted = Vec::with_capacity(self.observations());
        let mut log_likelihood = 0.0;
        let mut residual = vec![0.0; self.series()];
        let mut log_joint = vec![0.0; k];
        for t in 0..self.observations() {
            let prior: Vec<f64> = if t == 0 {
                previous.clone()
            } else {
                (0..k)
                    .map(|j| (0..k).map(|i| params.transition[i][j] * previous[i]).sum())
                    .collect()
            };
            // In logs, less their largest: a density far in a tail underflows.
            for j in 0..k {
                self.residual(params, t, j, &mut residual);
                log_joint[j] = gaussians[j].log_density(&residual) + prior[j].ln();
            }
            let top = log_joint.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if !top.is_finite() {
                return None;
            }
            let total: f64 = log_joint.iter().map(|l| (l - top).exp()).sum();
            log_likelihood += top + total.ln();
            previous = log_joint.iter().map(|l| (l - top).exp() / total).collect();
            predicted.push(prior);
            filtered.push(previous.clone());
        }
        log_likelihood.is_finite().then_some(Filtered {
            log_likelihood,
            filtered,
            predicted,
        })
    }

    /// Kim's smoother: the smoothed marginals and, per `(i, j)`, the sum over
    /// `t` of `Pr(s_{t-1} = i, s_t = j | all data)`.
    pub fn smooth(&self, params: &Params, f: &Filtered) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
        let (n, k) = (self.observations(), self.regimes);
        let mut smoothed = f.filtered.clone();
        let mut transitions = vec![vec![0.0; k]; k];
        for t in (0..n.saturating_sub(1)).rev() {
            let ratio: Vec<f64> = (0..k)
                .map(|j| {
                    if f.predicted[t + 1][j] > 0.0 {
                        smoothed[t + 1][j] / f.predicted[t + 1][j]
                    } else {
                        0.0
                    }
                })
                .collect();
            for i in 0..k {
                let mut sum = 0.0;
                for j in 0..k {
                    let joint = f.filtered[t][i] * params.transition[i][j] * ratio[j];
                    transitions[i][j] += joint;
                    sum += joint;
                }
                smoothed[t][i] = sum;
            }
        }
        (smoothed, transitions)
    }

    /// One EM step: transition counts, then weighted least squares per regime.
    /// `None` when a regime has lost its observations (fewer, in smoothed
    /// weight, than it has parameters) or the filter fails.
    fn em_step(&self, params: &Params) -> Option<(Params, f64)> {
        let (k, m, d, n) = (
            self.regimes,
            self.regressors(),
            self.series(),
            self.observations(),
        );
        let filtered = self.filter(params)?;
        let (smoothed, transitions) = self.smooth(params, &filtered);
        let transition = transitions
            .iter()
            .map(|row| {
                let total: f64 = row.iter().sum();
                row.iter().map(|c| c / total).collect()
            })
            .collect();
        let mut coefficients = Vec::with_capacity(k);
        let mut scatter = vec![DMatrix::<f64>::zeros(d, d); k];
        let mut weights = vec![0.0; k];
        for j in 0..k {
            weights[j] = smoothed.iter().map(|p| p[j]).sum();
            if weights[j] < (m + d) as f64 {
                return None;
            }
            let mut xtx = DMatrix::<f64>::zeros(m, m);
            let mut xty = DMatrix::<f64>::zeros(m, d);
            for ((p, x), y) in smoothed.iter().zip(&self.x).zip(&self.y) {
                let w = p[j];
                for a in 0..m {
                    for c in 0..d {
                        xty[(a, c)] += w * x[a] * y[c];
                    }
                    for b in 0..m {
                        xtx[(a, b)] += w * x[a] * x[b];
                    }
                }
            }
            let beta = xtx.cholesky()?.solve(&xty);
            let mut residual = vec![0.0; d];
            for ((p, x), y) in smoothed.iter().zip(&self.x).zip(&self.y) {
                for (c, e) in residual.iter_mut().enumerate() {
                    let mean: f64 = (0..m).map(|a| x[a] * beta[(a, c)]).sum();
                    *e = y[c] - mean;
                }
                let e = DVector::from_column_slice(&residual);
                scatter[j] += p[j] * &e * e.transpose();
            }
            coefficients.push(beta);
        }
        let covariances = if self.switching_covariance {
            scatter.iter().zip(&weights).map(|(s, w)| s / *w).collect()
        } else {
            let pooled = scatter.iter().sum::<DMatrix<f64>>() / n as f64;
            vec![pooled; k]
        };
        Some((
            Params {
                transition,
                coefficients,
                covariances,
            },
            filtered.log_likelihood,
        ))
    }

    /// Fits from `start`: EM until the likelihood gains less than `1e-8` a step
    /// (at most `max_em` steps), then BFGS on the exact likelihood.
    pub fn fit(&self, start: &Params, max_em: usize) -> Option<Fit> {
        let mut params = start.clone();
        let mut last = f64::NEG_INFINITY;
        let mut em_iterations = 0;
        for _ in 0..max_em {
            let (next, log_likelihood) = self.em_step(&params)?;
            em_iterations += 1;
            params = next;
            if (log_likelihood - last).abs() < 1e-8 {
                break;
            }
            last = log_likelihood;
        }
        let em_likelihood = self.filter(&params)?.log_likelihood;
        let (polished, bfgs_iterations) = self.polish(&params);
        if let Some(p) = polished {
            if self
                .filter(&p)
                .is_some_and(|f| f.log_likelihood >= em_likelihood)
            {
                params = p;
            }
        }
        let filtered = self.filter(&params)?;
        let (smoothed, _) = self.smooth(&params, &filtered);
        Some(Fit {
            log_likelihood: filtered.log_likelihood,
            params,
            em_iterations,
            bfgs_iterations,
            smoothed,
        })
    }

    /// The best fit from several starts, run in parallel: `None` only when
    /// every start fails. The fits are compared in the starts' order, so the
    /// result does not depend on the thread count.
    pub fn fit_best(&self, starts: &[Params], max_em: usize) -> Option<Fit> {
        use rayon::prelude::*;
        let fits: Vec<Option<Fit>> = starts
            .par_iter()
            .map(|start| self.fit(start, max_em))
            .collect();
        fits.into_iter()
            .flatten()
            .max_by(|a, b| a.log_likelihood.total_cmp(&b.log_likelihood))
    }

    fn covariance_count(&self) -> usize {
        if self.switching_covariance {
            self.regimes
        } else {
            1
        }
    }

    /// Each regime's `m x d` coefficients, column-major from `v[*at..]`.
    fn read_coefficients(&self, v: &[f64], at: &mut usize) -> Vec<DMatrix<f64>> {
        let (m, d) = (self.regressors(), self.series());
        (0..self.regimes)
            .map(|_| {
                let beta = DMatrix::from_column_slice(m, d, &v[*at..*at + m * d]);
                *at += m * d;
                beta
            })
            .collect()
    }

    /// The free parameters, unconstrained: per regime the log-odds of moving to
    /// each other regime against staying, the coefficients, and per covariance
    /// its Cholesky factor's lower triangle with the diagonal in logs.
    fn pack(&self, p: &Params) -> Option<Vec<f64>> {
        let k = self.regimes;
        let mut v = Vec::with_capacity(self.parameter_count());
        for i in 0..k {
            for j in (0..k).filter(|j| *j != i) {
                v.push((p.transition[i][j] / p.transition[i][i]).ln());
            }
        }
        for beta in &p.coefficients {
            v.extend(beta.iter());
        }
        for covariance in &p.covariances[..self.covariance_count()] {
            let factor = covariance.clone().cholesky()?.l();
            for a in 0..factor.nrows() {
                for b in 0..=a {
                    let value = factor[(a, b)];
                    v.push(if a == b { value.ln() } else { value });
                }
            }
        }
        v.iter().all(|x| x.is_finite()).then_some(v)
    }

    fn unpack(&self, v: &[f64]) -> Params {
        let (k, d) = (self.regimes, self.series());
        let mut at = 0;
        let mut transition = vec![vec![0.0; k]; k];
        for (i, row) in transition.iter_mut().enumerate() {
            let mut odds = vec![1.0; k];
            for (_, o) in odds.iter_mut().enumerate().filter(|(j, _)| *j != i) {
                *o = v[at].exp();
                at += 1;
            }
            let total: f64 = odds.iter().sum();
            for (cell, o) in row.iter_mut().zip(odds) {
                *cell = o / total;
            }
        }
        let coefficients = self.read_coefficients(v, &mut at);
        let mut covariances = Vec::with_capacity(k);
        for _ in 0..self.covariance_count() {
            let mut factor = DMatrix::<f64>::zeros(d, d);
            for a in 0..d {
                for b in 0..=a {
                    factor[(a, b)] = if a == b { v[at].exp() } else { v[at] };
                    at += 1;
                }
            }
            covariances.push(&factor * factor.transpose());
        }
        while covariances.len() < k {
            covariances.push(covariances[0].clone());
        }
        Params {
            transition,
            coefficients,
            covariances,
        }
    }

    fn negative_log_likelihood(&self, v: &[f64]) -> Option<f64> {
        self.filter(&self.unpack(v)).map(|f| -f.log_likelihood)
    }

    /// BFGS from `start`; `None` where the optimiser stops on an error (a trial
    /// point whose likelihood is not finite).
    fn polish(&self, start: &Params) -> (Option<Params>, u64) {
        let Some(x) = self.pack(start) else {
            return (None, 0);
        };
        let n = x.len();
        let identity: Vec<Vec<f64>> = (0..n)
            .map(|i| (0..n).map(|j| f64::from(u8::from(i == j))).collect())
            .collect();
        let solver = BFGS::new(MoreThuenteLineSearch::new())
            .with_tolerance_grad(1e-6)
            .and_then(|s| s.with_tolerance_cost(1e-12));
        let Ok(solver) = solver else {
            return (None, 0);
        };
        let result = Executor::new(Likelihood(self), solver)
            .configure(|state| state.param(x).inv_hessian(identity).max_iters(500))
            .run();
        match result {
            Ok(result) => {
                let iterations = result.state.iter;
                let best = result.state.best_param.map(|v| self.unpack(&v));
                (best, iterations)
            }
            Err(_) => (None, 0),
        }
    }

    /// Standard errors of the natural parameters, in [`Regression::natural`]'s
    /// order, from the observed information: the inverse of the numerical
    /// Hessian of the log likelihood at `params`. `None` where the Hessian is
    /// not negative definite (a maximum not reached, or a flat direction).
    ///
    /// A transition probability the fit put on its bound (below
    /// [`AT_BOUND`]) has no information: it is held fixed and its error is
    /// NaN. When a row's last probability, which the others determine, is on
    /// its bound, the row's largest entry absorbs the others' changes so that
    /// the last stays put, and its error follows from theirs.
    pub fn standard_errors(&self, params: &Params) -> Option<Vec<f64>> {
        let natural = self.natural(params);
        let n = natural.len();
        let k = self.regimes;
        let index = |i: usize, j: usize| i * (k - 1) + j;
        let mut fixed = vec![false; n];
        // (the row's dependent entry, the row's other entries)
        let mut tied: Vec<(usize, Vec<usize>)> = Vec::new();
        for (i, row) in params.transition.iter().enumerate() {
            for j in 0..k - 1 {
                fixed[index(i, j)] = row[j] < AT_BOUND;
            }
            if k > 1 && row[k - 1] < AT_BOUND {
                let largest = (0..k - 1)
                    .max_by(|a, b| row[*a].total_cmp(&row[*b]))
                    .expect("two regimes or more");
                fixed[index(i, largest)] = true;
                let others = (0..k - 1)
                    .filter(|j| *j != largest && !fixed[index(i, *j)])
                    .map(|j| index(i, j))
                    .collect();
                tied.push((index(i, largest), others));
            }
        }
        let free: Vec<usize> = (0..n).filter(|a| !fixed[*a]).collect();
        let ll = |v: &mut Vec<f64>| {
            for (dependent, others) in &tied {
                let moved: f64 = others.iter().map(|o| v[*o] - natural[*o]).sum();
                v[*dependent] = natural[*dependent] - moved;
            }
            self.filter(&self.params_from_natural(v))
                .map_or(f64::NAN, |f| f.log_likelihood)
        };
        let mut step: Vec<f64> = natural.iter().map(|v| 1e-4 * v.abs().max(1e-2)).collect();
        // A transition probability near 0 (or a row's last one, which the
        // others determine, near 0) must stay inside (0, 1) at every point
        // of the difference, two steps in one row included.
        for (i, row) in params.transition.iter().enumerate() {
            for j in 0..k - 1 {
                let room = if row[k - 1] < AT_BOUND {
                    row[j]
                } else {
                    row[j].min(row[k - 1])
                };
                step[index(i, j)] = step[index(i, j)].min(0.25 * room);
            }
        }
        let f = free.len();
        let mut hessian = DMatrix::<f64>::zeros(f, f);
        for a in 0..f {
            for b in a..f {
                let (pa, pb) = (free[a], free[b]);
                let at = |da: f64, db: f64| {
                    let mut v = natural.clone();
                    v[pa] += da * step[pa];
                    v[pb] += db * step[pb];
                    ll(&mut v)
                };
                let second = (at(1.0, 1.0) - at(1.0, -1.0) - at(-1.0, 1.0) + at(-1.0, -1.0))
                    / (4.0 * step[pa] * step[pb]);
                hessian[(a, b)] = second;
                hessian[(b, a)] = second;
            }
        }
        let covariance = (-hessian).cholesky()?.inverse();
        let mut errors = vec![f64::NAN; n];
        for (a, &p) in free.iter().enumerate() {
            errors[p] = covariance[(a, a)].sqrt();
        }
        for (dependent, others) in &tied {
            let position = |o: &usize| free.iter().position(|p| p == o).expect("free");
            let variance: f64 = others
                .iter()
                .flat_map(|a| others.iter().map(move |b| (a, b)))
                .map(|(a, b)| covariance[(position(a), position(b))])
                .sum();
            errors[*dependent] = if others.is_empty() {
                f64::NAN
            } else {
                variance.sqrt()
            };
        }
        free.iter()
            .all(|p| errors[*p].is_finite())
            .then_some(errors)
    }

    /// The natural parameters: per regime `P[i][j]` for `j < K - 1`; per regime
    /// the coefficients, regressor by regressor within each series; per
    /// covariance its lower triangle, row by row.
    pub fn natural(&self, p: &Params) -> Vec<f64> {
        let k = self.regimes;
        let mut v = Vec::with_capacity(self.parameter_count());
        for row in &p.transition {
            v.extend(&row[..k - 1]);
        }
        for beta in &p.coefficients {
            v.extend(beta.iter());
        }
        for covariance in &p.covariances[..self.covariance_count()] {
            for a in 0..covariance.nrows() {
                for b in 0..=a {
                    v.push(covariance[(a, b)]);
                }
            }
        }
        v
    }

    fn params_from_natural(&self, v: &[f64]) -> Params {
        let (k, d) = (self.regimes, self.series());
        let mut at = 0;
        let mut transition = Vec::with_capacity(k);
        for _ in 0..k {
            let mut row = v[at..at + k - 1].to_vec();
            at += k - 1;
            row.push(1.0 - row.iter().sum::<f64>());
            transition.push(row);
        }
        let coefficients = self.read_coefficients(v, &mut at);
        let mut covariances = Vec::with_capacity(k);
        for _ in 0..self.covariance_count() {
            let mut covariance = DMatrix::<f64>::zeros(d, d);
            for a in 0..d {
                for b in 0..=a {
                    covariance[(a, b)] = v[at];
                    covariance[(b, a)] = v[at];
                    at += 1;
                }
            }
            covariances.push(covariance);
        }
        while covariances.len() < k {
            covariances.push(covariances[0].clone());
        }
        Params {
            transition,
            coefficients,
            covariances,
        }
    }
}

/// The negative log likelihood in the unconstrained parameters, for argmin.
struct Likelihood<'a>(&'a Regression);

impl CostFunction for Likelihood<'_> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, v: &Self::Param) -> Result<f64, argmin::core::Error> {
        self.0
            .negative_log_likelihood(v)
            .ok_or_else(|| argmin::core::Error::msg("the likelihood is not finite"))
    }
}

impl Gradient for Likelihood<'_> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;

    /// Central differences: the filter has no closed-form derivative here.
    fn gradient(&self, v: &Self::Param) -> Result<Vec<f64>, argmin::core::Error> {
        (0..v.len())
            .map(|i| {
                let h = 1e-6 * v[i].abs().max(1.0);
                let (mut up, mut down) = (v.clone(), v.clone());
                up[i] += h;
                down[i] -= h;
                Ok((self.cost(&up)? - self.cost(&down)?) / (2.0 * h))
            })
            .collect()
    }
}

/// The ergodic distribution of a transition matrix: `pi = pi P`, `sum pi = 1`.
pub fn ergodic(transition: &[Vec<f64>]) -> Option<Vec<f64>> {
    let k = transition.len();
    // (P' - I) pi = 0 with the last equation replaced by sum pi = 1.
    let mut a = DMatrix::<f64>::zeros(k, k);
    for i in 0..k {
        for j in 0..k {
            a[(i, j)] = transition[j][i] - if i == j { 1.0 } else { 0.0 };
        }
    }
    for j in 0..k {
        a[(k - 1, j)] = 1.0;
    }
    let mut b = DVector::<f64>::zeros(k);
    b[k - 1] = 1.0;
    let pi = a.lu().solve(&b)?;
    pi.iter()
        .all(|p| p.is_finite() && *p >= -1e-12)
        .then(|| pi.iter().map(|p| p.max(0.0)).collect())
}

/// Expected durations of each regime, in observations: `1 / (1 - P[i][i])`.
pub fn expected_durations(transition: &[Vec<f64>]) -> Vec<f64> {
    transition
        .iter()
        .enumerate()
        .map(|(i, row)| 1.0 / (1.0 - row[i]))
        .collect()
}
