//! Closed-form prices the portfolio valuation needs: a constant-maturity par
//! Treasury rolled daily, and European options under Black-Scholes.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

/// Coupons a year of a US Treasury note.
const COUPONS_PER_YEAR: f64 = 2.0;

/// The price per unit of face of a bond paying `coupon` a year (semi-annually)
/// for `maturity_years`, at yield `y` (semi-annual compounding).
pub fn bond_price(coupon: f64, maturity_years: f64, y: f64) -> f64 {
    let i = y / COUPONS_PER_YEAR;
    let periods = maturity_years * COUPONS_PER_YEAR;
    // A whole number of coupon periods (2 and 10 years) needs no ln and exp.
    let discount = if periods.fract() == 0.0 && periods <= 120.0 {
        (1.0 + i).powi(-(periods as i32))
    } else {
        (-periods * i.ln_1p()).exp()
    };
    // The annuity factor (1 - (1+i)^-N) / i tends to N as i -> 0.
    let annuity = if i.abs() < 1e-12 {
        periods
    } else {
        (1.0 - discount) / i
    };
    coupon / COUPONS_PER_YEAR * annuity + discount
}

/// One step's return of a constant-maturity Treasury held as a par bond bought
/// at yield `y_start`: the coupon accrued over `dt` plus the exact repricing of
/// that bond at `y_end`. Rolling into the new par bond every step keeps the
/// maturity constant; the bond's own ageing over one day (roll-down) is left
/// out, as the scenario simulates one yield per maturity. To second order the
/// repricing is `-D dy + C dy^2 / 2` with the par bond's modified duration
/// `D = (1 - (1 + y/2)^-2n) / y` and convexity `C`.
#[inline]
pub fn par_bond_return(y_start: f64, y_end: f64, maturity_years: f64, dt: f64) -> f64 {
    bond_price(y_start, maturity_years, y_end) - 1.0 + y_start * dt
}

/// The modified duration of a par bond at yield `y`.
pub fn par_bond_duration(y: f64, maturity_years: f64) -> f64 {
    let i = y / COUPONS_PER_YEAR;
    let periods = maturity_years * COUPONS_PER_YEAR;
    if i.abs() < 1e-12 {
        return maturity_years;
    }
    (1.0 - (-periods * i.ln_1p()).exp()) / y
}

/// Put, call, or both at one strike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OptionKind {
    Put,
    Call,
    Straddle,
}

/// The standard normal distribution function.
#[inline]
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

/// Abramowitz & Stegun 26.2.17 (after Hastings): for `x >= 0`,
/// `1 - N(x) = phi(x) t (b1 + b2 t + ... + b5 t^4)` with `t = 1/(1 + p x)`,
/// within 7.5e-8. Returns `1 - N(|x|)` given `phi(x)`.
#[inline]
fn upper_tail(x: f64, density: f64) -> f64 {
    const P: f64 = 0.231_641_9;
    const B: [f64; 5] = [
        0.319_381_530,
        -0.356_563_782,
        1.781_477_937,
        -1.821_255_978,
        1.330_274_429,
    ];
    let t = 1.0 / (1.0 + P * x.abs());
    density * t * (B[0] + t * (B[1] + t * (B[2] + t * (B[3] + t * B[4]))))
}

/// `N(x)` from `x` and the density `phi(x)`, within 7.5e-8.
#[inline]
fn cdf_from_density(x: f64, density: f64) -> f64 {
    let tail = upper_tail(x, density);
    if x >= 0.0 {
        1.0 - tail
    } else {
        tail
    }
}

/// The standard normal distribution function to within 7.5e-8 (one `exp`).
#[inline]
pub fn normal_cdf_fast(x: f64) -> f64 {
    let density = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
    cdf_from_density(x, density)
}

/// The daily mark of an option overlay: [`black_scholes`] with the normal
/// distribution function to within 7.5e-8 (the price to within 1.5e-7 of spot
/// plus strike) and one `exp` for both densities, by the identity
/// `S phi(d1) = K e^(-r tau) phi(d2)`. `sqrt_years` is `sqrt(years)`, the same
/// for every lane of a step. Premiums use the exact [`black_scholes`].
#[inline]
pub fn black_scholes_mark(
    kind: OptionKind,
    spot: f64,
    strike: f64,
    years: f64,
    sqrt_years: f64,
    vol: f64,
    rate: f64,
) -> f64 {
    let sd = vol * sqrt_years;
    if !(sd > 1e-12) || !(spot > 0.0) || !(strike > 0.0) {
        return black_scholes(kind, spot, strike, years, vol, rate);
    }
    let discounted = strike * (-rate * years).exp();
    let d1 = ((spot / strike).ln() + (rate + 0.5 * vol * vol) * years) / sd;
    let d2 = d1 - sd;
    let density1 = (-0.5 * d1 * d1).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let density2 = density1 * spot / discounted;
    let (n1, n2) = (
        cdf_from_density(d1, density1),
        cdf_from_density(d2, density2),
    );
    let call = spot * n1 - discounted * n2;
    let put = discounted * (1.0 - n2) - spot * (1.0 - n1);
    match kind {
        OptionKind::Call => call,
        OptionKind::Put => put,
        OptionKind::Straddle => call + put,
    }
}

/// The Black-Scholes (1973) price of a European option on a non-dividend-paying
/// underlying at `spot`, with `years` to expiry, volatility `vol` and a
/// continuously compounded `rate`. At or past expiry (or with no volatility)
/// it is the discounted intrinsic value.
pub fn black_scholes(
    kind: OptionKind,
    spot: f64,
    strike: f64,
    years: f64,
    vol: f64,
    rate: f64,
) -> f64 {
    black_scholes_with(normal_cdf, kind, spot, strike, years, vol, rate)
}

#[inline]
fn black_scholes_with(
    cdf: impl Fn(f64) -> f64,
    kind: OptionKind,
    spot: f64,
    strike: f64,
    years: f64,
    vol: f64,
    rate: f64,
) -> f64 {
    let years = years.max(0.0);
    let discounted = strike * (-rate * years).exp();
    let sd = vol * years.sqrt();
    if !(sd > 1e-12) || !(spot > 0.0) || !(strike > 0.0) {
        let call = (spot - discounted).max(0.0);
        let put = (discounted - spot).max(0.0);
        return match kind {
            OptionKind::Call => call,
            OptionKind::Put => put,
            OptionKind::Straddle => call + put,
        };
    }
    let d1 = ((spot / strike).ln() + (rate + 0.5 * vol * vol) * years) / sd;
    let d2 = d1 - sd;
    let call = || spot * cdf(d1) - discounted * cdf(d2);
    let put = || discounted * cdf(-d2) - spot * cdf(-d1);
    match kind {
        OptionKind::Call => call(),
        OptionKind::Put => put(),
        OptionKind::Straddle => call() + put(),
    }
}

/// What an option pays at expiry.
#[inline]
pub fn payoff(kind: OptionKind, spot: f64, strike: f64) -> f64 {
    match kind {
        OptionKind::Call => (spot - strike).max(0.0),
        OptionKind::Put => (strike - spot).max(0.0),
        OptionKind::Straddle => (spot - strike).abs(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_par_bond_prices_at_par() {
        assert!((bond_price(0.04, 10.0, 0.04) - 1.0).abs() < 1e-14);
        assert!((bond_price(0.04, 10.25, 0.04) - 1.0).abs() < 1e-14);
        // Whole and fractional periods price alike.
        let whole = bond_price(0.03, 10.0, 0.045);
        let general = 0.03 / 2.0 * (1.0 - (-20.0 * 0.0225f64.ln_1p()).exp()) / 0.0225
            + (-20.0 * 0.0225f64.ln_1p()).exp();
        assert!((whole - general).abs() < 1e-14);
        assert!((bond_price(0.0, 2.0, 0.0) - 1.0).abs() < 1e-14);
    }

    #[test]
    fn normal_cdf_known_values() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-16);
        // Phi(1.959963984540054) = 0.975
        assert!((normal_cdf(1.959_963_984_540_054) - 0.975).abs() < 1e-15);
    }

    #[test]
    fn the_fast_normal_cdf_is_within_its_bound() {
        for i in -800..=800 {
            let x = i as f64 / 100.0;
            let error = (normal_cdf_fast(x) - normal_cdf(x)).abs();
            assert!(error < 7.5e-8, "x = {x}: {error}");
        }
    }

    #[test]
    fn daily_marks_are_within_their_bound() {
        for kind in [OptionKind::Put, OptionKind::Call, OptionKind::Straddle] {
            for spot in [50.0, 90.0, 100.0, 110.0, 200.0] {
                for years in [1.0 / 252.0, 21.0 / 252.0, 1.0] {
                    let exact = black_scholes(kind, spot, 100.0, years, 0.3, 0.04);
                    let mark =
                        black_scholes_mark(kind, spot, 100.0, years, years.sqrt(), 0.3, 0.04);
                    let bound = 2.0 * 7.5e-8 * (spot + 100.0);
                    assert!((mark - exact).abs() < bound, "{kind:?} {spot} {years}");
                }
            }
        }
    }
}
