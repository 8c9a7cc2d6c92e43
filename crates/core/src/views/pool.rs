//! Entropy pooling (Meucci 2008, "Fully Flexible Views"): the posterior `q`
//! over a run's paths closest to the prior `p` in relative entropy
//! `sum_p q_p ln(q_p / p_p)` that meets linear views `sum_p q_p c_kp (rel) b_k`.
//!
//! Solved through its dual. With each view's coefficients centred on its
//! target and scaled by their largest distance from it,
//! `x_kp = (c_kp - b_k) / scale_k`, the posterior is the exponential tilt
//! `q_p = p_p exp(lambda . x_p) / Z(lambda)` and `lambda` minimises the convex
//! `f(lambda) = ln Z(lambda)`, whose gradient is `E_q[x]` (each view's miss)
//! and whose Hessian is `Cov_q(x)`. Newton's method with that exact Hessian,
//! a backtracking line search, and the sign bounds of inequality views
//! (`lambda_k <= 0` for `at most`, `>= 0` for `at least`) kept by projection
//! with an active set (Bertsekas' projected Newton). Each Newton step needs
//! only sums over paths, a `k`-vector and a `k x k` matrix, summed in fixed
//! chunks of paths in a fixed order (bit-identical for any thread count), and
//! mergeable across the parts of a sharded run.

use std::ops::Neg;

use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;

/// How a view's expectation relates to its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    Equal,
    AtMost,
    AtLeast,
}

/// One linear view on the posterior q: sum_p q_p * coefficients[p]  (relation)  target.
#[derive(Debug, Clone)]
pub struct LinearView {
    /// For messages ("view 2 `dollar falls`" ...).
    pub name: String,
    /// One per path (an indicator for a probability view).
    pub coefficients: Vec<f64>,
    pub relation: Relation,
    pub target: f64,
}

/// The posterior and what it cost.
#[derive(Debug, Clone)]
pub struct Pooled {
    /// One per path, sums to 1.
    pub posterior: Vec<f64>,
    /// sum q ln(q/p).
    pub relative_entropy: f64,
    /// exp(-sum q ln q).
    pub effective_scenarios: f64,
    /// The dual solution, one per view, in the views' own units: the posterior
    /// is `q_p ∝ p_p exp(sum_k multipliers[k] * coefficients_k[p])` (zero for an
    /// inequality view that does not bind).
    pub multipliers: Vec<f64>,
}

/// Why no posterior meets the views.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PoolError {
    /// One view asks for what no weighting of the paths gives.
    #[error("{view}: {target} cannot be met by reweighting the paths: {reason}")]
    Unreachable {
        view: String,
        target: f64,
        reason: String,
    },
    /// Views each of which can be met, but not together.
    #[error("{} conflict: each can be met alone, but no reweighting of the paths meets them together; drop one of them or move its target", name_list(.views))]
    Conflict { views: Vec<String> },
    /// The prior or the coefficients are not a distribution and figures.
    #[error("{0}")]
    Input(String),
}

impl crate::UserFixable for PoolError {
    fn is_user_fixable(&self) -> bool {
        true
    }
}

fn name_list(views: &[String]) -> String {
    match views {
        [] => "the views".to_string(),
        [one] => one.clone(),
        [head @ .., last] => format!("{} and {last}", head.join(", ")),
    }
}

/// The posterior closest to `prior` in relative entropy that meets every view.
pub fn entropy_pool(prior: &[f64], views: &[LinearView]) -> Result<Pooled, PoolError> {
    let columns: Vec<&[f64]> = views.iter().map(|v| v.coefficients.as_slice()).collect();
    let targets: Vec<ViewTarget> = views.iter().map(ViewTarget::of).collect();
    let part = PartViews {
        prior,
        coefficients: columns,
    };
    let pooled = entropy_pool_parts(std::slice::from_ref(&part), &targets)?;
    Ok(Pooled {
        posterior: pooled.posterior.into_iter().next().unwrap_or_default(),
        relative_entropy: pooled.relative_entropy,
        effective_scenarios: pooled.effective_scenarios,
        multipliers: pooled.multipliers,
    })
}

/// As [`entropy_pool`], each view held with a confidence in [0, 1] (Meucci
/// 2008, section 5): the posterior is the mixture
/// `q = (1 - c_1) p + sum_j (c_j - c_{j+1}) q(S_j)` over the distinct
/// confidences `c_1 > c_2 > ... > c_m > 0` (with `c_{m+1} = 0`), where `q(S_j)`
/// is the full-confidence posterior of the views held with confidence at
/// least `c_j`. One confidence for all views gives Meucci's
/// `(1 - c) p + c q`; a view held with confidence 1 holds exactly. The
/// multipliers are those of the posterior with every view (confidence > 0).
pub fn entropy_pool_with_confidence(
    prior: &[f64],
    views: &[LinearView],
    confidence: &[f64],
) -> Result<Pooled, PoolError> {
    let part = PartViews {
        prior,
        coefficients: views.iter().map(|v| v.coefficients.as_slice()).collect(),
    };
    let targets: Vec<ViewTarget> = views.iter().map(ViewTarget::of).collect();
    let pooled =
        entropy_pool_parts_with_confidence(std::slice::from_ref(&part), &targets, confidence)?;
    Ok(Pooled {
        posterior: pooled.posterior.into_iter().next().unwrap_or_default(),
        relative_entropy: pooled.relative_entropy,
        effective_scenarios: pooled.effective_scenarios,
        multipliers: pooled.multipliers,
    })
}

/// [`entropy_pool_with_confidence`] over a sharded run's parts without
/// gathering their paths: each full-confidence posterior of the mixture is
/// [`entropy_pool_parts`]'s, and the mixture is taken part by part.
pub fn entropy_pool_parts_with_confidence(
    parts: &[PartViews],
    views: &[ViewTarget],
    confidence: &[f64],
) -> Result<PooledParts, PoolError> {
    if confidence.len() != views.len() {
        return Err(PoolError::Input(format!(
            "{} confidences for {} views",
            confidence.len(),
            views.len()
        )));
    }
    if let Some((view, c)) = views
        .iter()
        .zip(confidence)
        .find(|(_, c)| !(0.0..=1.0).contains(*c))
    {
        return Err(PoolError::Input(format!(
            "{}: confidence {c} is outside [0, 1]",
            view.name
        )));
    }
    let mut levels: Vec<f64> = confidence.iter().copied().filter(|c| *c > 0.0).collect();
    levels.sort_by(|a, b| b.total_cmp(a));
    levels.dedup();
    // The parts with only the views held with confidence at least `level`.
    let held_at = |level: f64| -> (Vec<PartViews>, Vec<ViewTarget>) {
        let held: Vec<usize> = (0..views.len())
            .filter(|i| confidence[*i] > 0.0 && confidence[*i] >= level)
            .collect();
        let parts = parts
            .iter()
            .map(|part| PartViews {
                prior: part.prior,
                coefficients: held.iter().map(|i| part.coefficients[*i]).collect(),
            })
            .collect();
        (parts, held.iter().map(|i| views[*i].clone()).collect())
    };
    if levels == [1.0] || levels.is_empty() {
        let (held_parts, held_views) = held_at(1.0);
        let mut pooled = entropy_pool_parts(&held_parts, &held_views)?;
        pooled.multipliers = spread(&pooled.multipliers, confidence);
        return Ok(pooled);
    }
    let mut total = 0.0;
    for part in parts {
        check_prior_values(part.prior)?;
        total += part.prior.iter().sum::<f64>();
    }
    check_total(total)?;
    let mut posterior: Vec<Vec<f64>> = parts
        .iter()
        .map(|part| part.prior.iter().map(|p| (1.0 - levels[0]) * p).collect())
        .collect();
    let mut multipliers = Vec::new();
    for (j, level) in levels.iter().enumerate() {
        let next = levels.get(j + 1).copied().unwrap_or(0.0);
        let (held_parts, held_views) = held_at(*level);
        let pooled = entropy_pool_parts(&held_parts, &held_views)?;
        let share = level - next;
        for (q, full) in posterior.iter_mut().zip(&pooled.posterior) {
            q.par_iter_mut()
                .zip(full.par_iter())
                .for_each(|(q, part)| *q += share * part);
        }
        multipliers = pooled.multipliers;
    }
    let (relative_entropy, neg_entropy) = entropy_sums(
        parts
            .iter()
            .zip(&posterior)
            .map(|(part, q)| (part.prior, q.as_slice())),
    );
    Ok(PooledParts {
        posterior,
        relative_entropy,
        effective_scenarios: (-neg_entropy).exp(),
        multipliers: spread(&multipliers, confidence),
    })
}

/// Multipliers of the views held (confidence > 0) back in every view's place.
fn spread(held: &[f64], confidence: &[f64]) -> Vec<f64> {
    let mut held = held.iter();
    confidence
        .iter()
        .map(|c| {
            if *c > 0.0 {
                held.next().copied().unwrap_or(0.0)
            } else {
                0.0
            }
        })
        .collect()
}

/// A view without its coefficients: what a sharded run's parts share.
#[derive(Debug, Clone)]
pub struct ViewTarget {
    pub name: String,
    pub relation: Relation,
    pub target: f64,
}

impl ViewTarget {
    pub fn of(view: &LinearView) -> ViewTarget {
        ViewTarget {
            name: view.name.clone(),
            relation: view.relation,
            target: view.target,
        }
    }
}

/// One part of a sharded run: its paths' prior (the parts' priors together sum
/// to one) and each view's coefficients on its paths.
#[derive(Debug, Clone)]
pub struct PartViews<'a> {
    pub prior: &'a [f64],
    pub coefficients: Vec<&'a [f64]>,
}

/// [`Pooled`] of a sharded run: one posterior per part.
#[derive(Debug, Clone)]
pub struct PooledParts {
    pub posterior: Vec<Vec<f64>>,
    pub relative_entropy: f64,
    pub effective_scenarios: f64,
    pub multipliers: Vec<f64>,
}

/// Entropy pooling over a sharded run's parts without gathering their paths:
/// every Newton step sums each part's `k`-vector and `k x k` matrix. Equal to
/// [`entropy_pool`] on the parts' paths laid end to end to rounding (the sums
/// are grouped by part, so not bit for bit unless each part but the last is a
/// whole number of chunks).
pub fn entropy_pool_parts(
    parts: &[PartViews],
    views: &[ViewTarget],
) -> Result<PooledParts, PoolError> {
    let k = views.len();
    let mut total = 0.0;
    for part in parts {
        check_prior_values(part.prior)?;
        total += part.prior.iter().sum::<f64>();
        if part.coefficients.len() != k {
            return Err(PoolError::Input(format!(
                "a part has coefficients for {} views, not {k}",
                part.coefficients.len()
            )));
        }
        for (view, column) in views.iter().zip(&part.coefficients) {
            if column.len() != part.prior.len() {
                return Err(PoolError::Input(format!(
                    "{}: {} coefficients for {} paths",
                    view.name,
                    column.len(),
                    part.prior.len()
                )));
            }
        }
    }
    check_total(total)?;
    if let Some(view) = views.iter().find(|v| !v.target.is_finite()) {
        return Err(PoolError::Input(format!(
            "{}: the target {} is not a number",
            view.name, view.target
        )));
    }

    // Each view's range over the paths the prior allows; a view outside it
    // needs no solve to be refused, and one constant there is met or not.
    let mut scales = vec![0.0; k];
    let mut solved = Vec::new();
    for (i, view) in views.iter().enumerate() {
        let (lowest, highest) = range(parts, i, &view.name)?;
        reachable(view, lowest, highest)?;
        scales[i] = (highest - view.target).max(view.target - lowest);
        if highest > lowest {
            solved.push(i);
        }
    }

    if solved.is_empty() {
        return Ok(PooledParts {
            posterior: parts.iter().map(|part| part.prior.to_vec()).collect(),
            relative_entropy: 0.0,
            effective_scenarios: entropy_sums(parts.iter().map(|part| (part.prior, part.prior)))
                .1
                .neg()
                .exp(),
            multipliers: vec![0.0; k],
        });
    }
    let blocks: Vec<Block> = parts
        .iter()
        .map(|part| Block::new(part, views, &scales, &solved))
        .collect();
    let relations: Vec<Relation> = solved.iter().map(|i| views[*i].relation).collect();
    let lambda = match newton(&blocks, &relations) {
        Ok(lambda) => lambda,
        Err(()) => return Err(conflict(parts, views, &solved)),
    };

    let log_z = evaluate(&blocks, &lambda, false).log_z();
    let posterior: Vec<Vec<f64>> = blocks.iter().map(|b| b.posterior(&lambda, log_z)).collect();
    let (relative_entropy, effective_scenarios) = entropy_sums(
        parts
            .iter()
            .zip(&posterior)
            .map(|(part, q)| (part.prior, q.as_slice())),
    );
    let mut multipliers = vec![0.0; k];
    for (slot, i) in solved.iter().enumerate() {
        multipliers[*i] = lambda[slot] / scales[*i];
    }
    Ok(PooledParts {
        posterior,
        relative_entropy,
        effective_scenarios: (-effective_scenarios).exp(),
        multipliers,
    })
}

/// The relative entropy `sum q ln(q/p)` of a posterior and its effective
/// number of scenarios `exp(-sum q ln q)`.
pub fn entropy_figures(prior: &[f64], posterior: &[f64]) -> (f64, f64) {
    let (relative_entropy, neg_entropy) = entropy_sums(std::iter::once((prior, posterior)));
    (relative_entropy, (-neg_entropy).exp())
}

/// `(sum q ln(q/p), sum q ln q)` over parts' paths, in fixed chunks of each
/// part added in order: parts whose lengths are whole chunks (the last
/// aside) give the very sums of their paths laid end to end.
fn entropy_sums<'a>(parts: impl Iterator<Item = (&'a [f64], &'a [f64])>) -> (f64, f64) {
    parts
        .flat_map(|(prior, posterior)| {
            prior
                .par_chunks(CHUNK)
                .zip(posterior.par_chunks(CHUNK))
                .map(|(p, q)| {
                    p.iter().zip(q).fold((0.0, 0.0), |(re, h), (p, q)| {
                        if *q > 0.0 {
                            (re + q * (q / p).ln(), h + q * q.ln())
                        } else {
                            (re, h)
                        }
                    })
                })
                .collect::<Vec<_>>()
        })
        .fold((0.0, 0.0), |(a, b), (c, d)| (a + c, b + d))
}

fn check_prior_values(prior: &[f64]) -> Result<(), PoolError> {
    match prior.iter().position(|p| !(p.is_finite() && *p >= 0.0)) {
        Some(path) => Err(PoolError::Input(format!(
            "path {path}'s prior probability {} is not a probability",
            prior[path]
        ))),
        None => Ok(()),
    }
}

fn check_total(total: f64) -> Result<(), PoolError> {
    if (total - 1.0).abs() > 1e-9 {
        return Err(PoolError::Input(format!(
            "the prior probabilities sum to {total}, not 1"
        )));
    }
    Ok(())
}

/// A view's lowest and highest coefficient over the paths the prior allows.
fn range(parts: &[PartViews], view: usize, name: &str) -> Result<(f64, f64), PoolError> {
    let mut lowest = f64::INFINITY;
    let mut highest = f64::NEG_INFINITY;
    let mut offset = 0;
    for part in parts {
        let chunks: Vec<(f64, f64, Option<usize>)> = part
            .prior
            .par_chunks(CHUNK)
            .zip(part.coefficients[view].par_chunks(CHUNK))
            .enumerate()
            .map(|(chunk, (prior, column))| {
                let (mut lo, mut hi, mut bad) = (f64::INFINITY, f64::NEG_INFINITY, None);
                for (path, (p, c)) in prior.iter().zip(column).enumerate() {
                    if *p > 0.0 {
                        if !c.is_finite() && bad.is_none() {
                            bad = Some(chunk * CHUNK + path);
                        }
                        lo = lo.min(*c);
                        hi = hi.max(*c);
                    }
                }
                (lo, hi, bad)
            })
            .collect();
        for (lo, hi, bad) in chunks {
            if let Some(path) = bad {
                return Err(PoolError::Input(format!(
                    "{name}: path {} has no finite value",
                    offset + path + 1
                )));
            }
            lowest = lowest.min(lo);
            highest = highest.max(hi);
        }
        offset += part.prior.len();
    }
    Ok((lowest, highest))
}

/// Whether some posterior that keeps every path possible meets a view alone:
/// its target strictly inside the paths' range (on the open side for an
/// inequality), or the paths' one value when they all agree.
fn reachable(view: &ViewTarget, lowest: f64, highest: f64) -> Result<(), PoolError> {
    let target = view.target;
    let span = format!("the paths' values run from {lowest} to {highest}");
    let reason = if lowest == highest {
        let met = match view.relation {
            Relation::Equal => target == lowest,
            Relation::AtMost => lowest <= target,
            Relation::AtLeast => lowest >= target,
        };
        (!met).then(|| format!("every path has the value {lowest}"))
    } else {
        match view.relation {
            Relation::Equal if target <= lowest || target >= highest => Some(format!(
                "{span}, and only a target strictly between them keeps every path possible"
            )),
            Relation::AtMost if target <= lowest => Some(format!(
                "{span}, and at most {target} needs a target above {lowest}"
            )),
            Relation::AtLeast if target >= highest => Some(format!(
                "{span}, and at least {target} needs a target below {highest}"
            )),
            _ => None,
        }
    };
    match reason {
        Some(reason) => Err(PoolError::Unreachable {
            view: view.name.clone(),
            target,
            reason,
        }),
        None => Ok(()),
    }
}

/// The smallest set of views that conflict, by dropping each view in turn and
/// keeping it only when the rest can then be met (a deletion filter: the set
/// left is irreducible).
fn conflict(parts: &[PartViews], views: &[ViewTarget], solved: &[usize]) -> PoolError {
    let mut kept: Vec<usize> = solved.to_vec();
    let mut i = 0;
    while i < kept.len() {
        let mut trial = kept.clone();
        trial.remove(i);
        if trial.is_empty() || feasible(parts, views, &trial) {
            i += 1;
        } else {
            kept = trial;
        }
    }
    PoolError::Conflict {
        views: kept.iter().map(|i| views[*i].name.clone()).collect(),
    }
}

fn feasible(parts: &[PartViews], views: &[ViewTarget], subset: &[usize]) -> bool {
    let sub_views: Vec<ViewTarget> = subset.iter().map(|i| views[*i].clone()).collect();
    let sub_parts: Vec<PartViews> = parts
        .iter()
        .map(|part| PartViews {
            prior: part.prior,
            coefficients: subset.iter().map(|i| part.coefficients[*i]).collect(),
        })
        .collect();
    let scales: Vec<f64> = sub_views
        .iter()
        .enumerate()
        .map(|(i, view)| {
            range(&sub_parts, i, &view.name)
                .map(|(lo, hi)| (hi - view.target).max(view.target - lo))
                .unwrap_or(1.0)
        })
        .collect();
    let all: Vec<usize> = (0..subset.len()).collect();
    let blocks: Vec<Block> = sub_parts
        .iter()
        .map(|part| Block::new(part, &sub_views, &scales, &all))
        .collect();
    let relations: Vec<Relation> = sub_views.iter().map(|v| v.relation).collect();
    newton(&blocks, &relations).is_ok()
}

/// Paths per chunk of the sums: fixed, so the sums' grouping, and the result,
/// do not depend on the number of threads.
const CHUNK: usize = 4096;
/// A view's scaled miss counts as met below this share of its column's
/// largest distance from the target (1e-12 of a return's range is far inside
/// the 1e-9 a view must be matched to).
const TOLERANCE: f64 = 1e-12;
/// Where rounding in sums over many paths stops the Newton steps improving,
/// a miss this small is met all the same.
const ROUNDING_FLOOR: f64 = 1e-10;
const MAX_ITERATIONS: usize = 100;
/// Scaled coefficients lie in [-1, 1], so a multiplier beyond this weighs one
/// path against another by more than exp(-2000): the posterior has left the
/// prior's support, that is the views cannot be met together.
const DIVERGED: f64 = 1e3;

/// A part's scaled coefficients for the views solved, chunk by chunk of
/// [`CHUNK`] paths, each chunk view by view (`x_kp` of the chunk's paths
/// contiguous for each `k`), so that every sum runs over contiguous memory.
struct Block<'a> {
    prior: &'a [f64],
    scaled: Vec<f64>,
    k: usize,
}

impl<'a> Block<'a> {
    fn new(
        part: &PartViews<'a>,
        views: &[ViewTarget],
        scales: &[f64],
        solved: &[usize],
    ) -> Block<'a> {
        let k = solved.len();
        let mut scaled = vec![0.0; part.prior.len() * k];
        scaled
            .par_chunks_mut(CHUNK * k.max(1))
            .zip(part.prior.par_chunks(CHUNK))
            .enumerate()
            .for_each(|(chunk, (out, prior))| {
                let start = chunk * CHUNK;
                let m = prior.len();
                for (slot, i) in solved.iter().enumerate() {
                    let column = &part.coefficients[*i][start..start + m];
                    let (target, scale) = (views[*i].target, scales[*i]);
                    for ((x, c), p) in out[slot * m..(slot + 1) * m]
                        .iter_mut()
                        .zip(column)
                        .zip(prior)
                    {
                        // Paths the prior rules out may hold NaN; their weight is zero.
                        *x = if *p > 0.0 { (c - target) / scale } else { 0.0 };
                    }
                }
            });
        Block {
            prior: part.prior,
            scaled,
            k,
        }
    }

    fn chunks(&self) -> impl IndexedParallelIterator<Item = (&[f64], &[f64])> {
        self.prior
            .par_chunks(CHUNK)
            .zip(self.scaled.par_chunks(CHUNK * self.k.max(1)))
    }

    fn posterior(&self, lambda: &[f64], log_z: f64) -> Vec<f64> {
        let mut q = vec![0.0; self.prior.len()];
        q.par_chunks_mut(CHUNK)
            .zip(self.chunks())
            .for_each(|(q, (prior, scaled))| {
                exponents(scaled, lambda, q);
                for (q, p) in q.iter_mut().zip(prior) {
                    *q = if *p > 0.0 {
                        p * (*q - log_z).exp()
                    } else {
                        0.0
                    };
                }
            });
        q
    }
}

/// `lambda . x_p` for a chunk's paths, into `out`.
fn exponents(scaled: &[f64], lambda: &[f64], out: &mut [f64]) {
    let m = out.len();
    out.fill(0.0);
    for (i, l) in lambda.iter().enumerate() {
        for (e, x) in out.iter_mut().zip(&scaled[i * m..(i + 1) * m]) {
            *e += l * x;
        }
    }
}

/// `sum a_p b_p` with four running sums (the order fixed, so the result is
/// too), which the compiler can keep in vector registers.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let (a4, b4) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = a4
        .remainder()
        .iter()
        .zip(b4.remainder())
        .map(|(a, b)| a * b)
        .sum();
    for (a, b) in a4.zip(b4) {
        for l in 0..4 {
            acc[l] += a[l] * b[l];
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// Sums of the prior-weighted tilts `w_p = p_p exp(lambda . x_p - shift)` over
/// some paths: `mass = sum w`, `first = sum w x`, `second = sum w x x'`
/// (upper triangle, row by row). The shift, the largest exponent, keeps every
/// term at most `p_p`.
#[derive(Debug, Clone)]
struct Sums {
    shift: f64,
    mass: f64,
    first: Vec<f64>,
    second: Vec<f64>,
}

impl Sums {
    fn empty(k: usize, hessian: bool) -> Sums {
        Sums {
            shift: f64::NEG_INFINITY,
            mass: 0.0,
            first: vec![0.0; k],
            second: vec![0.0; if hessian { k * (k + 1) / 2 } else { 0 }],
        }
    }

    fn of_chunk(prior: &[f64], scaled: &[f64], lambda: &[f64], hessian: bool) -> Sums {
        let k = lambda.len();
        let m = prior.len();
        let mut sums = Sums::empty(k, hessian);
        let mut weights = [0.0; CHUNK];
        let weights = &mut weights[..m];
        exponents(scaled, lambda, weights);
        for (e, p) in weights.iter().zip(prior) {
            if *p > 0.0 {
                sums.shift = sums.shift.max(*e);
            }
        }
        if sums.shift == f64::NEG_INFINITY {
            return sums;
        }
        for (w, p) in weights.iter_mut().zip(prior) {
            *w = if *p > 0.0 {
                p * (*w - sums.shift).exp()
            } else {
                0.0
            };
        }
        sums.mass = dot(weights, &[1.0; CHUNK][..m]);
        let mut weighted = [0.0; CHUNK];
        let weighted = &mut weighted[..m];
        let mut at = 0;
        for i in 0..k {
            let x = &scaled[i * m..(i + 1) * m];
            for ((wx, w), x) in weighted.iter_mut().zip(&*weights).zip(x) {
                *wx = w * x;
            }
            sums.first[i] = dot(weighted, &[1.0; CHUNK][..m]);
            if hessian {
                for j in i..k {
                    sums.second[at] = dot(weighted, &scaled[j * m..(j + 1) * m]);
                    at += 1;
                }
            }
        }
        sums
    }

    /// Both groups of paths' sums, at the larger shift.
    fn merge(self, other: Sums) -> Sums {
        if other.mass == 0.0 {
            return self;
        }
        if self.mass == 0.0 {
            return other;
        }
        let shift = self.shift.max(other.shift);
        let (a, b) = ((self.shift - shift).exp(), (other.shift - shift).exp());
        let mix = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(x, y)| a * x + b * y).collect();
        Sums {
            shift,
            mass: a * self.mass + b * other.mass,
            first: mix(&self.first, &other.first),
            second: mix(&self.second, &other.second),
        }
    }

    fn log_z(&self) -> f64 {
        self.shift + self.mass.ln()
    }

    /// The gradient `E_q[x]`.
    fn gradient(&self) -> Vec<f64> {
        self.first.iter().map(|f| f / self.mass).collect()
    }

    /// The Hessian `Cov_q(x)`.
    fn hessian(&self, mean: &[f64]) -> DMatrix<f64> {
        let k = mean.len();
        let mut h = DMatrix::zeros(k, k);
        let mut at = 0;
        for i in 0..k {
            for j in i..k {
                let v = self.second[at] / self.mass - mean[i] * mean[j];
                h[(i, j)] = v;
                h[(j, i)] = v;
                at += 1;
            }
        }
        h
    }
}

/// The parts' sums at `lambda`, chunk by chunk in a fixed order.
fn evaluate(blocks: &[Block], lambda: &[f64], hessian: bool) -> Sums {
    blocks
        .iter()
        .flat_map(|block| {
            block
                .chunks()
                .map(|(prior, scaled)| Sums::of_chunk(prior, scaled, lambda, hessian))
                .collect::<Vec<_>>()
        })
        .fold(Sums::empty(lambda.len(), hessian), Sums::merge)
}

/// Minimises `ln Z(lambda)` under the inequality views' sign bounds, or fails
/// when the views cannot be met together (the dual is unbounded below: the
/// multipliers run off, or no step improves while the views are missed).
#[allow(clippy::result_unit_err)]
fn newton(blocks: &[Block], relations: &[Relation]) -> Result<Vec<f64>, ()> {
    let k = relations.len();
    let mut lambda = vec![0.0; k];
    if k == 0 {
        return Ok(lambda);
    }
    let project = |lambda: &mut [f64]| {
        for (l, r) in lambda.iter_mut().zip(relations) {
            match r {
                Relation::AtMost => *l = l.min(0.0),
                Relation::AtLeast => *l = l.max(0.0),
                Relation::Equal => {}
            }
        }
    };
    // An inequality view at its bound whose miss pushes its multiplier
    // across it is met (it does not bind): held at zero.
    let at_bound = |lambda: &[f64], gradient: &[f64]| -> Vec<bool> {
        (0..k)
            .map(|i| {
                lambda[i] == 0.0
                    && match relations[i] {
                        Relation::AtMost => gradient[i] <= 0.0,
                        Relation::AtLeast => gradient[i] >= 0.0,
                        Relation::Equal => false,
                    }
            })
            .collect()
    };
    let miss_of = |lambda: &[f64], gradient: &[f64]| -> f64 {
        let active = at_bound(lambda, gradient);
        (0..k)
            .filter(|i| !active[*i])
            .map(|i| gradient[i].abs())
            .fold(0.0, f64::max)
    };
    let mut sums = evaluate(blocks, &lambda, true);
    for _ in 0..MAX_ITERATIONS {
        let f = sums.log_z();
        let gradient = sums.gradient();
        let active = at_bound(&lambda, &gradient);
        let miss = miss_of(&lambda, &gradient);
        if miss <= TOLERANCE {
            return Ok(lambda);
        }
        let free: Vec<usize> = (0..k).filter(|i| !active[*i]).collect();
        let hessian = sums.hessian(&gradient);
        let step_free = newton_step(&hessian, &gradient, &free);
        let mut direction = vec![0.0; k];
        for (slot, i) in free.iter().enumerate() {
            direction[*i] = step_free[slot];
        }

        let mut accepted = None;
        let mut t = 1.0;
        for _ in 0..60 {
            let mut trial: Vec<f64> = lambda
                .iter()
                .zip(&direction)
                .map(|(l, d)| l + t * d)
                .collect();
            project(&mut trial);
            let slope: f64 = (0..k).map(|i| gradient[i] * (trial[i] - lambda[i])).sum();
            if slope >= 0.0 {
                break;
            }
            let trial_sums = evaluate(blocks, &trial, true);
            let f_trial = trial_sums.log_z();
            // Near the optimum a step lowers f by less than the rounding of
            // its sums over paths (about 1e-14); then a step that halves the
            // miss is progress all the same.
            let sufficient = f_trial <= f + 1e-4 * slope
                || (-slope <= 1e-10 * (1.0 + f.abs())
                    && miss_of(&trial, &trial_sums.gradient()) <= 0.5 * miss);
            if sufficient {
                accepted = Some((trial, trial_sums));
                break;
            }
            t *= 0.5;
        }
        match accepted {
            Some((next, next_sums)) => {
                lambda = next;
                sums = next_sums;
            }
            None if miss <= ROUNDING_FLOOR => return Ok(lambda),
            None => return Err(()),
        }
        if lambda.iter().any(|l| l.abs() > DIVERGED || !l.is_finite()) {
            return Err(());
        }
    }
    Err(())
}

/// `-H_FF^-1 g_F` on the free views; a tiny ridge when `H_FF` is singular
/// (redundant views, or a posterior collapsing onto few paths).
fn newton_step(hessian: &DMatrix<f64>, gradient: &[f64], free: &[usize]) -> Vec<f64> {
    let n = free.len();
    let h = DMatrix::from_fn(n, n, |a, b| hessian[(free[a], free[b])]);
    let g = DVector::from_iterator(n, free.iter().map(|i| -gradient[*i]));
    let scale = (0..n).map(|a| h[(a, a)]).fold(0.0, f64::max).max(1e-300);
    let mut ridge = 0.0;
    for _ in 0..20 {
        let regularised = &h + DMatrix::identity(n, n) * ridge;
        if let Some(cholesky) = regularised.cholesky() {
            let step = cholesky.solve(&g);
            if step.iter().all(|s| s.is_finite()) {
                return step.iter().copied().collect();
            }
        }
        ridge = if ridge == 0.0 {
            scale * 1e-12
        } else {
            ridge * 100.0
        };
    }
    g.iter().map(|g| g / scale).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal};
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn normal_sample(n: usize, seed: u64) -> Vec<f64> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        (0..n).map(|_| StandardNormal.sample(&mut rng)).collect()
    }

    fn uniform(n: usize) -> Vec<f64> {
        vec![1.0 / n as f64; n]
    }

    fn view(name: &str, coefficients: Vec<f64>, relation: Relation, target: f64) -> LinearView {
        LinearView {
            name: name.to_string(),
            coefficients,
            relation,
            target,
        }
    }

    fn expectation(q: &[f64], c: &[f64]) -> f64 {
        q.iter().zip(c).map(|(q, c)| q * c).sum()
    }

    fn indicator(x: &[f64], at_most: f64) -> Vec<f64> {
        x.iter()
            .map(|v| f64::from(u8::from(*v <= at_most)))
            .collect()
    }

    /// The tilted sample's mean at `theta`, evaluated directly (no shared code
    /// with the solver).
    fn tilted_mean(x: &[f64], theta: f64) -> f64 {
        let top = x.iter().fold(f64::NEG_INFINITY, |m, v| m.max(theta * v));
        let (mut z, mut s) = (0.0, 0.0);
        for v in x {
            let w = (theta * v - top).exp();
            z += w;
            s += w * v;
        }
        s / z
    }

    #[test]
    fn a_mean_view_on_a_normal_sample_is_the_exponential_tilt() {
        let x = normal_sample(20_000, 7);
        let target = 0.25;
        let pooled = entropy_pool(
            &uniform(x.len()),
            &[view("mean", x.clone(), Relation::Equal, target)],
        )
        .unwrap();
        // The tilt parameter by bisection on the tilted mean, increasing in theta.
        let (mut lo, mut hi) = (-5.0, 5.0);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if tilted_mean(&x, mid) < target {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let theta = 0.5 * (lo + hi);
        assert!(
            (pooled.multipliers[0] - theta).abs() < 1e-12,
            "{} vs {theta}",
            pooled.multipliers[0]
        );
        // For N(0, 1) the tilt of a mean view m is m itself; the sample's
        // theta differs by about its standard error 1/sqrt(n) = 0.007.
        assert!((theta - target).abs() < 5.0 / (x.len() as f64).sqrt());
        assert!((expectation(&pooled.posterior, &x) - target).abs() < 1e-9);
        let top = x.iter().fold(f64::NEG_INFINITY, |m, v| m.max(theta * v));
        let z: f64 = x.iter().map(|v| (theta * v - top).exp()).sum();
        for (q, v) in pooled.posterior.iter().zip(&x) {
            assert!((q - (theta * v - top).exp() / z).abs() < 1e-12 * q.max(1e-300) + 1e-18);
        }
        assert!((pooled.posterior.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        // For a tilt of N(0, 1) by theta: KL = theta^2 / 2 and the posterior
        // of n equal paths keeps about n exp(-theta^2) of them.
        assert!((pooled.relative_entropy - theta * theta / 2.0).abs() < 0.01);
        let n = x.len() as f64;
        assert!((pooled.effective_scenarios / n - (-theta * theta / 2.0).exp()).abs() < 0.01);
    }

    #[test]
    fn probability_and_quantile_views_are_met() {
        let x = normal_sample(50_000, 11);
        let y = normal_sample(50_000, 12);
        let views = [
            view("p", indicator(&x, -1.0), Relation::Equal, 0.3),
            view("mean y", y.clone(), Relation::Equal, -0.1),
            view("q", indicator(&y, 0.5), Relation::Equal, 0.5),
        ];
        let pooled = entropy_pool(&uniform(x.len()), &views).unwrap();
        for v in &views {
            assert!((expectation(&pooled.posterior, &v.coefficients) - v.target).abs() < 1e-9);
        }
    }

    #[test]
    fn inactive_inequalities_change_nothing_and_active_ones_bind() {
        let x = normal_sample(30_000, 3);
        let y = normal_sample(30_000, 4);
        let prior = uniform(x.len());
        let equality = view("mean x", x.clone(), Relation::Equal, 0.2);
        let alone = entropy_pool(&prior, std::slice::from_ref(&equality)).unwrap();
        let y_mean = expectation(&alone.posterior, &y);

        // Met already by the equality-only posterior: no effect at all.
        let loose = view("loose", y.clone(), Relation::AtMost, y_mean + 0.05);
        let with_loose = entropy_pool(&prior, &[equality.clone(), loose]).unwrap();
        assert_eq!(with_loose.multipliers[1], 0.0);
        assert_eq!(with_loose.posterior, alone.posterior);

        // Missed by it: holds with equality, and its multiplier has the sign
        // of an upper bound.
        let tight = view("tight", y.clone(), Relation::AtMost, y_mean - 0.1);
        let with_tight = entropy_pool(&prior, &[equality, tight]).unwrap();
        assert!((expectation(&with_tight.posterior, &y) - (y_mean - 0.1)).abs() < 1e-9);
        assert!((expectation(&with_tight.posterior, &x) - 0.2).abs() < 1e-9);
        assert!(with_tight.multipliers[1] < 0.0);

        let floor = view("floor", x.clone(), Relation::AtLeast, 0.3);
        let with_floor = entropy_pool(&prior, &[floor]).unwrap();
        assert!((expectation(&with_floor.posterior, &x) - 0.3).abs() < 1e-9);
        assert!(with_floor.multipliers[0] > 0.0);
    }

    #[test]
    fn conflicting_views_are_refused_by_name() {
        let x = normal_sample(10_000, 5);
        let y = normal_sample(10_000, 6);
        let prior = uniform(x.len());
        let views = [
            view("view 1 `y`", y.clone(), Relation::Equal, 0.1),
            view("view 2 `low`", indicator(&x, -0.5), Relation::Equal, 0.4),
            view("view 3 `high`", indicator(&x, -0.5), Relation::Equal, 0.6),
        ];
        let error = entropy_pool(&prior, &views).unwrap_err();
        assert_eq!(
            error,
            PoolError::Conflict {
                views: vec!["view 2 `low`".into(), "view 3 `high`".into()]
            }
        );
        assert!(error
            .to_string()
            .contains("view 2 `low` and view 3 `high` conflict"));

        let top = x.iter().fold(f64::NEG_INFINITY, |m, v| m.max(*v));
        let error = entropy_pool(
            &prior,
            &[view("view 1 `x`", x.clone(), Relation::Equal, top + 0.1)],
        )
        .unwrap_err();
        assert!(matches!(error, PoolError::Unreachable { .. }), "{error}");
        assert!(error.to_string().contains(&format!("{top}")), "{error}");

        // Each inequality reachable alone, not together: E[x] >= 0.5 and E[x] <= 0.4.
        let error = entropy_pool(
            &prior,
            &[
                view("a", x.clone(), Relation::AtLeast, 0.5),
                view("b", y, Relation::AtMost, 0.0),
                view("c", x, Relation::AtMost, 0.4),
            ],
        )
        .unwrap_err();
        assert_eq!(
            error,
            PoolError::Conflict {
                views: vec!["a".into(), "c".into()]
            }
        );
    }

    #[test]
    fn bit_identical_for_any_thread_count() {
        let x = normal_sample(100_000, 9);
        let y = normal_sample(100_000, 10);
        let views = [
            view("x", x.clone(), Relation::Equal, 0.1),
            view("y", y, Relation::AtLeast, 0.05),
            view("p", indicator(&x, -1.0), Relation::Equal, 0.2),
        ];
        let prior = uniform(x.len());
        let run = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| entropy_pool(&prior, &views).unwrap())
        };
        let one = run(1);
        for threads in [2, 3, 8] {
            let many = run(threads);
            assert_eq!(one.posterior, many.posterior);
            assert_eq!(one.multipliers, many.multipliers);
            assert_eq!(
                one.relative_entropy.to_bits(),
                many.relative_entropy.to_bits()
            );
        }
    }

    #[test]
    fn parts_give_the_single_runs_posterior() {
        let x = normal_sample(30_000, 13);
        let prior = uniform(x.len());
        let single = entropy_pool(
            &prior,
            &[
                view("x", x.clone(), Relation::Equal, -0.2),
                view("p", indicator(&x, 1.0), Relation::AtMost, 0.7),
            ],
        )
        .unwrap();
        let low = indicator(&x, 1.0);
        let cuts = [0, 7_001, 19_000, 30_000];
        let parts: Vec<PartViews> = cuts
            .windows(2)
            .map(|w| PartViews {
                prior: &prior[w[0]..w[1]],
                coefficients: vec![&x[w[0]..w[1]], &low[w[0]..w[1]]],
            })
            .collect();
        let targets = [
            ViewTarget {
                name: "x".into(),
                relation: Relation::Equal,
                target: -0.2,
            },
            ViewTarget {
                name: "p".into(),
                relation: Relation::AtMost,
                target: 0.7,
            },
        ];
        let sharded = entropy_pool_parts(&parts, &targets).unwrap();
        let joined: Vec<f64> = sharded.posterior.concat();
        for (a, b) in joined.iter().zip(&single.posterior) {
            assert!((a - b).abs() <= 1e-12 * b, "{a} vs {b}");
        }
        assert!((sharded.relative_entropy - single.relative_entropy).abs() < 1e-12);
    }

    #[test]
    fn parts_with_confidence_give_the_single_runs_posterior() {
        let n = 3 * CHUNK + 517;
        let x = normal_sample(n, 31);
        let y = normal_sample(n, 32);
        let prior = uniform(n);
        let low = indicator(&x, -1.0);
        let views = [
            view("p", low.clone(), Relation::Equal, 0.25),
            view("y", y.clone(), Relation::AtLeast, 0.1),
        ];
        let confidence = [1.0, 0.6];
        let single = entropy_pool_with_confidence(&prior, &views, &confidence).unwrap();
        let targets: Vec<ViewTarget> = views.iter().map(ViewTarget::of).collect();
        let sharded = |cuts: &[usize]| {
            let parts: Vec<PartViews> = cuts
                .windows(2)
                .map(|w| PartViews {
                    prior: &prior[w[0]..w[1]],
                    coefficients: vec![&low[w[0]..w[1]], &y[w[0]..w[1]]],
                })
                .collect();
            entropy_pool_parts_with_confidence(&parts, &targets, &confidence).unwrap()
        };
        // Parts of whole chunks (the last aside) add the single run's chunk
        // sums in its order: the same numbers bit for bit.
        let aligned = sharded(&[0, CHUNK, 3 * CHUNK, n]);
        assert_eq!(aligned.posterior.concat(), single.posterior);
        assert_eq!(aligned.multipliers, single.multipliers);
        assert_eq!(
            aligned.relative_entropy.to_bits(),
            single.relative_entropy.to_bits()
        );
        assert_eq!(
            aligned.effective_scenarios.to_bits(),
            single.effective_scenarios.to_bits()
        );
        // Other cuts group the sums otherwise: equal to rounding, a few ulps
        // of each sum carried through Newton's steps (1e-12 relative is a
        // thousand times that).
        let uneven = sharded(&[0, 1_000, 5_003, n]);
        for (a, b) in uneven.posterior.concat().iter().zip(&single.posterior) {
            assert!((a - b).abs() <= 1e-12 * b, "{a} vs {b}");
        }
        assert!((uneven.relative_entropy - single.relative_entropy).abs() < 1e-12);
        assert!(
            (uneven.effective_scenarios - single.effective_scenarios).abs()
                < 1e-12 * single.effective_scenarios
        );
        // The view held with confidence 1 holds exactly on the mixture.
        assert!((expectation(&single.posterior, &low) - 0.25).abs() < 1e-9);
    }

    #[test]
    fn confidence_blends_the_prior_and_the_full_posterior() {
        let x = normal_sample(20_000, 21);
        let prior = uniform(x.len());
        let v = view("x", x.clone(), Relation::Equal, 0.3);
        let full = entropy_pool(&prior, std::slice::from_ref(&v)).unwrap();
        let half = entropy_pool_with_confidence(&prior, std::slice::from_ref(&v), &[0.4]).unwrap();
        for ((h, f), p) in half.posterior.iter().zip(&full.posterior).zip(&prior) {
            assert!((h - (0.6 * p + 0.4 * f)).abs() < 1e-15);
        }
        let prior_mean = expectation(&prior, &x);
        let blended = expectation(&half.posterior, &x);
        assert!((blended - (0.6 * prior_mean + 0.4 * 0.3)).abs() < 1e-9);
        // A view held with confidence 1 holds exactly beside one held at 0.5.
        let y = normal_sample(20_000, 22);
        let w = view("y", y.clone(), Relation::Equal, -0.2);
        let mixed = entropy_pool_with_confidence(&prior, &[v, w.clone()], &[1.0, 0.5]).unwrap();
        assert!((expectation(&mixed.posterior, &x) - 0.3).abs() < 1e-9);
        assert!(expectation(&mixed.posterior, &y) > -0.2);
        assert!(mixed.relative_entropy < full.relative_entropy + 1.0);
        let error = entropy_pool_with_confidence(&prior, &[w], &[1.5]).unwrap_err();
        assert!(error.to_string().contains("outside [0, 1]"), "{error}");
    }

    #[test]
    fn bad_input_is_refused() {
        let x = normal_sample(100, 1);
        let error = entropy_pool(&[0.5; 100], &[view("x", x.clone(), Relation::Equal, 0.0)]);
        assert!(error.unwrap_err().to_string().contains("sum to 50"));
        let mut holed = x;
        holed[4] = f64::NAN;
        let error = entropy_pool(&uniform(100), &[view("x", holed, Relation::Equal, 0.0)]);
        assert!(error.unwrap_err().to_string().contains("path 5"));
    }
}
