//! Elementary functions written so that loops over them vectorise.
//!
//! libm's `expf` is a call per element, which stops the compiler from vectorising the loop
//! around it; the versions here are branch-free arithmetic on the element's bits instead
//! (the same approach as SLEEF, which PyTorch uses). Accuracy is tested against the f64
//! functions: within 2 ulp over the whole range, including subnormal results, overflow to
//! infinity, and NaN.

/// `exp` with a vectorisable body: `f32` by range reduction and a polynomial, `f64` by libm
/// (its loops are memory-bound first).
pub trait VecExp: Copy {
    fn vexp(self) -> Self;
}

impl VecExp for f64 {
    #[inline(always)]
    fn vexp(self) -> f64 {
        self.exp()
    }
}

impl VecExp for f32 {
    #[inline(always)]
    fn vexp(self) -> f32 {
        exp_f32(self)
    }
}

/// `exp(x)` for f32: `x = n ln2 + r` with `|r| <= ln2 / 2` (Cody–Waite, ln2 split in two),
/// `exp(r)` by its degree-7 Taylor polynomial (truncation error below 1e-8 relative), and
/// `2^n` built from exponent bits in two halves so subnormal results come out right.
#[inline(always)]
#[allow(clippy::excessive_precision)]
pub fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_751_953_125; // ln2 rounded to 16 significant bits
    const LN2_LO: f32 = 1.428_606_765_330_187e-6; // ln2 - LN2_HI
                                                  // Adding 1.5 * 2^23 rounds to an integer and leaves it in the low mantissa bits.
    const SHIFTER: f32 = 12_582_912.0;
    // Below -104 the result rounds to 0; above 88.8 to infinity. NaN passes through.
    let x = x.clamp(-104.0, 88.8);
    let t = x * LOG2E + SHIFTER;
    let n = t - SHIFTER;
    let ni = (t.to_bits() as i32).wrapping_sub(SHIFTER.to_bits() as i32);
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0
                        + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    // 2^n = 2^a * 2^b with a = floor(n / 2), b = n - a, both within the normal exponents.
    let a = ni >> 1;
    let b = ni.wrapping_sub(a);
    let scale_a = f32::from_bits((a.wrapping_add(127) as u32).wrapping_shl(23));
    let scale_b = f32::from_bits((b.wrapping_add(127) as u32).wrapping_shl(23));
    p * scale_a * scale_b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f32, b: f32) -> u32 {
        if a == b {
            return 0;
        }
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs() as u32
    }

    #[test]
    fn exp_f32_within_two_ulp_everywhere() {
        let mut worst = (0u32, 0.0f32);
        let mut x = -110.0f32;
        while x < 90.0 {
            let want = (x as f64).exp() as f32;
            let got = exp_f32(x);
            let u = ulps(got, want);
            if u > worst.0 {
                worst = (u, x);
            }
            x += 0.000_73;
        }
        assert!(worst.0 <= 2, "{} ulp at x = {}", worst.0, worst.1);
        for x in [
            0.0f32, -0.0, 1.0, -1.0, 1e-30, -1e-30, 88.72, 88.73, -87.3, -103.9, -104.0,
        ] {
            assert!(ulps(exp_f32(x), (x as f64).exp() as f32) <= 2, "x = {x}");
        }
    }

    #[test]
    fn exp_f32_special_values() {
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_f32(1000.0), f32::INFINITY);
        assert_eq!(exp_f32(-1000.0), 0.0);
        assert!(exp_f32(f32::NAN).is_nan());
    }
}
