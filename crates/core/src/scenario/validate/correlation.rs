//! The Brownian drivers and their correlation matrices: the default matrix,
//! per-regime matrices or pair overrides, each checked symmetric, unit-diagonal
//! and positive semi-definite.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use super::*;

pub(super) fn build_drivers(raw: &RawScenario, check: &mut Checker<'_>) -> Vec<String> {
    if let Some(drivers) = &raw.correlation.drivers {
        for (index, name) in drivers.iter().enumerate() {
            check.identifier(
                &format!("correlation.drivers[{index}]"),
                "driver name",
                name,
            );
            if drivers[..index].contains(name) {
                check.error(
                    format!("correlation.drivers[{index}]"),
                    format!("driver `{name}` is listed twice"),
                );
            }
        }
        return drivers.clone();
    }
    // Without an explicit list, each asset brings its own drivers, in asset order.
    let mut drivers = Vec::new();
    for (name, asset) in raw.assets.iter().filter(|(_, a)| draws_noise(a)) {
        let driver = asset.driver.clone().unwrap_or_else(|| name.clone());
        if !drivers.contains(&driver) {
            drivers.push(driver);
        }
        if asset.process == ProcessKind::Heston {
            let variance = asset
                .variance_driver
                .clone()
                .unwrap_or_else(|| format!("{name}_variance"));
            if !drivers.contains(&variance) {
                drivers.push(variance);
            }
        }
    }
    drivers
}

pub(super) fn check_correlation(
    key: &str,
    rows: &[Vec<f64>],
    drivers: &[String],
    check: &mut Checker<'_>,
) -> Option<DMatrix<f64>> {
    let n = drivers.len();
    if rows.len() != n || rows.iter().any(|row| row.len() != n) {
        let shape: Vec<usize> = rows.iter().map(|r| r.len()).collect();
        check.error(
            key,
            format!(
                "must be {n}x{n}, one row and column per driver ({}); found {} rows of lengths {:?}",
                drivers.join(", "),
                rows.len(),
                shape
            ),
        );
        return None;
    }
    check_matrix(
        key,
        DMatrix::from_fn(n, n, |i, j| rows[i][j]),
        drivers,
        check,
    )
}

/// `base` with the given pairs set (both triangles), then checked whole.
pub(super) fn apply_pairs(
    key: &str,
    base: &DMatrix<f64>,
    pairs: &CorrelationPairs,
    drivers: &[String],
    check: &mut Checker<'_>,
) -> Option<DMatrix<f64>> {
    let mut matrix = base.clone();
    let mut set: Vec<(usize, usize)> = Vec::new();
    let mut ok = true;
    for (a, row) in pairs {
        let Some(i) = check.lookup(&format!("{key}.{a}"), "driver", a, drivers) else {
            ok = false;
            continue;
        };
        for (b, value) in row {
            let k = format!("{key}.{a}.{b}");
            let Some(j) = check.lookup(&k, "driver", b, drivers) else {
                ok = false;
                continue;
            };
            if i == j {
                check.error(&k, "a driver's correlation with itself is always 1; list pairs of different drivers");
                ok = false;
                continue;
            }
            if set.contains(&(i, j)) || set.contains(&(j, i)) {
                check.error(&k, format!("the pair {a} / {b} is given twice"));
                ok = false;
                continue;
            }
            let before = check.problems();
            let value = check.range(&k, *value, Closed(-1.0), Closed(1.0));
            ok &= check.problems() == before;
            set.push((i, j));
            matrix[(i, j)] = value;
            matrix[(j, i)] = value;
        }
    }
    if !ok {
        return None;
    }
    check_matrix(key, matrix, drivers, check)
}

pub(super) fn check_matrix(
    key: &str,
    matrix: DMatrix<f64>,
    drivers: &[String],
    check: &mut Checker<'_>,
) -> Option<DMatrix<f64>> {
    let n = drivers.len();
    let mut ok = true;
    for i in 0..n {
        if !((matrix[(i, i)] - 1.0).abs() <= CORRELATION_TOLERANCE) {
            check.error(
                format!("{key}[{i}][{i}]"),
                format!("diagonal entry is {}; must be 1", matrix[(i, i)]),
            );
            ok = false;
        }
        for j in 0..i {
            let (a, b) = (matrix[(i, j)], matrix[(j, i)]);
            if !((-1.0..=1.0).contains(&a) && (-1.0..=1.0).contains(&b)) {
                check.error(
                    format!("{key}[{i}][{j}]"),
                    format!("{a} / {b} out of range; valid: [-1, 1]"),
                );
                ok = false;
            } else if !((a - b).abs() <= CORRELATION_TOLERANCE) {
                check.error(
                    key.to_string(),
                    format!(
                        "not symmetric: entry [{i}][{j}] is {a} but [{j}][{i}] is {b} ({} vs {})",
                        drivers[i], drivers[j]
                    ),
                );
                ok = false;
            }
        }
    }
    if !ok {
        return None;
    }
    let smallest = matrix
        .clone()
        .symmetric_eigen()
        .eigenvalues
        .iter()
        .cloned()
        .fold(f64::INFINITY, f64::min);
    if !(smallest >= EIGENVALUE_TOLERANCE) {
        check.error(
            key,
            format!("not positive semi-definite: smallest eigenvalue {smallest:.6}; no set of drivers can have these correlations"),
        );
        return None;
    }
    Some(matrix)
}

pub(super) fn build_default_correlation(
    raw: &RawScenario,
    drivers: &[String],
    check: &mut Checker<'_>,
) -> DMatrix<f64> {
    let identity = DMatrix::identity(drivers.len(), drivers.len());
    let matrix = match &raw.correlation.matrix {
        Some(rows) => check_correlation("correlation.matrix", rows, drivers, check)
            .unwrap_or_else(|| identity.clone()),
        None => identity.clone(),
    };
    match &raw.correlation.pairs {
        Some(pairs) => {
            apply_pairs("correlation.pairs", &matrix, pairs, drivers, check).unwrap_or(identity)
        }
        None => matrix,
    }
}

pub(super) fn build_correlation_pairs(
    raw: &RawScenario,
    asset_names: &[String],
    check: &mut Checker<'_>,
) -> Vec<(usize, usize)> {
    let mut pairs = Vec::new();
    for (index, pair) in raw.statistics.correlations.iter().enumerate() {
        let key = format!("statistics.correlations[{index}]");
        let [a, b] = pair.as_slice() else {
            check.error(
                &key,
                format!(
                    "must name two assets, like [\"spx\", \"dxy\"]; found {} names",
                    pair.len()
                ),
            );
            continue;
        };
        let (Some(i), Some(j)) = (
            check.lookup(&format!("{key}[0]"), "asset", a, asset_names),
            check.lookup(&format!("{key}[1]"), "asset", b, asset_names),
        ) else {
            continue;
        };
        if i == j {
            check.error(&key, "names the same asset twice");
        } else if pairs.contains(&(i, j)) || pairs.contains(&(j, i)) {
            check.error(&key, format!("the pair {a} / {b} is listed twice"));
        } else {
            pairs.push((i, j));
        }
    }
    pairs
}
