//! Neural-network ops for `ferrograd.nn` and `ferrograd.optim`:
//!
//! - `im2col` / `col2im`: the sliding windows of convolution and pooling (each the other's
//!   backward, so gradients of any order exist); `nn.functional` builds conv as
//!   `weight @ im2col(x)` and pooling as a max / sum over the window dim;
//! - `cross_entropy`: log-softmax + negative log-likelihood (with `ignore_index` and label
//!   smoothing) in one pass over 2-d logits, its backward written with `softmax`;
//! - `optim_step`: one optimiser update of one parameter (SGD, Adam/AdamW, RMSprop,
//!   Adagrad) in a single pass, with PyTorch's single-tensor formulas;
//! - `uniform_` / `normal_`: the in-place random fills behind `nn.init`.
//!
//! The differentiable ops here are recorded as `Backward::Custom` nodes (the core enum stays
//! closed to this family): `Node` holds the rule and its saved values.

use super::arith::{self, Operand};
use super::{inplace, needs_grad, record, reduce, shape, Backward as Op, Ctx, Saved};
use crate::autograd::hooks::CustomFunction;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::kernels::conv::{self, Window};
use crate::kernels::{team, PARALLEL_THRESHOLD};
use crate::shape::Dims;
use crate::storage::{Buffer, Element};
use crate::tensor::Tensor;
use num_traits::Float;
use std::any::Any;
use std::sync::Arc;

// ---- nodes --------------------------------------------------------------------------------

enum Rule {
    /// grad of the input: `col2im(g)`.
    Im2Col { window: Window, dims: Dims },
    /// grad of the columns: `im2col(g)` (padding reads 0).
    Col2Im { window: Window },
    CrossEntropy {
        input: Saved,
        target: Saved,
        ignore_index: i64,
        reduction: Reduction,
        smoothing: f64,
    },
}

struct Node {
    name: &'static str,
    rule: Rule,
}

impl CustomFunction for Node {
    fn name(&self) -> &'static str {
        self.name
    }

    fn apply(&self, grads: &[Option<Tensor>], ctx: &Ctx) -> Result<Vec<Option<Tensor>>> {
        let Some(Some(g)) = grads.first() else {
            return Ok(vec![None; self.inputs()]);
        };
        Ok(match &self.rule {
            Rule::Im2Col { window, dims } => vec![Some(col2im(g, window, dims)?)],
            Rule::Col2Im { window } => vec![Some(im2col(g, window, 0.0)?)],
            Rule::CrossEntropy {
                input,
                target,
                ignore_index,
                reduction,
                smoothing,
            } => {
                let x = input.unpack(ctx)?;
                let t = target.unpack(ctx)?;
                vec![
                    Some(cross_entropy_grad(
                        &x,
                        &t,
                        g,
                        *ignore_index,
                        *reduction,
                        *smoothing,
                    )?),
                    None,
                ]
            }
        })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Node {
    fn inputs(&self) -> usize {
        match self.rule {
            Rule::CrossEntropy { .. } => 2,
            _ => 1,
        }
    }
}

/// Records `out` as the result of `rule` over `inputs` when autograd needs it.
fn track(
    out: Tensor,
    inputs: &[Option<&Tensor>],
    name: &'static str,
    rule: impl FnOnce() -> Rule,
) -> Tensor {
    if needs_grad(inputs) {
        let node = record(Op::Custom(Arc::new(Node { name, rule: rule() })), inputs);
        out.set_grad_fn(Some(node), 0);
    }
    out
}

/// `t` as a contiguous tensor (a copy only when it is not already).
fn dense(t: &Tensor) -> Result<Tensor> {
    if t.is_contiguous() {
        Ok(t.clone())
    } else {
        crate::kernels::cast(t, t.dtype())
    }
}

fn check_float(t: &Tensor, what: &str) -> Result<()> {
    if t.dtype().is_floating_point() {
        Ok(())
    } else {
        Err(Error::Runtime(format!(
            "{what}: expected a floating point tensor, got {}",
            t.dtype()
        )))
    }
}

// ---- im2col / col2im ----------------------------------------------------------------------

/// `x` (N, C, *spatial) to its windows (N, C, taps, positions); `fill` where a tap falls in
/// the padding (0 for convolution and average pooling, -inf for max pooling).
pub fn im2col(x: &Tensor, window: &Window, fill: f64) -> Result<Tensor> {
    check_float(x, "im2col")?;
    let n = window.spatial.len();
    if x.ndim() != n + 2 || x.shape()[2..] != window.spatial[..] {
        return Err(Error::Runtime(format!(
            "im2col: expected an input of shape [N, C, {:?}], got {:?}",
            window.spatial,
            x.shape()
        )));
    }
    let xc = dense(x)?;
    let shape = [
        x.shape()[0],
        x.shape()[1],
        window.taps(),
        window.positions(),
    ];
    let out = crate::float_dispatch!(x.dtype(), T => {
        Tensor::from_vec(conv::im2col::<T>(&xc, window, T::from_f64(fill))?, &shape)?
    });
    let input_dims = x.dims();
    Ok(track(out, &[Some(x)], "Im2ColBackward0", || Rule::Im2Col {
        window: window.clone(),
        dims: input_dims,
    }))
}

/// The adjoint of `im2col`: columns (N, C, taps, positions) summed onto (N, C, *spatial).
pub fn col2im(cols: &Tensor, window: &Window, dims: &Dims) -> Result<Tensor> {
    check_float(cols, "col2im")?;
    let expected = [dims[0], dims[1], window.taps(), window.positions()];
    if cols.shape() != expected {
        return Err(Error::Runtime(format!(
            "col2im: expected columns of shape {expected:?}, got {:?}",
            cols.shape()
        )));
    }
    let cc = dense(cols)?;
    let out = crate::float_dispatch!(cols.dtype(), T => {
        Tensor::from_vec(conv::col2im::<T>(&cc, window)?, dims)?
    });
    Ok(track(out, &[Some(cols)], "Col2ImBackward0", || {
        Rule::Col2Im {
            window: window.clone(),
        }
    }))
}

// ---- cross entropy ------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduction {
    None,
    Mean,
    Sum,
}

impl Reduction {
    pub fn parse(s: &str) -> Result<Reduction> {
        match s {
            "none" => Ok(Reduction::None),
            "mean" => Ok(Reduction::Mean),
            "sum" => Ok(Reduction::Sum),
            other => Err(Error::Value(format!(
                "{other} is not a valid value for reduction"
            ))),
        }
    }
}

/// The class of each row, or `None` for an ignored row; IndexError for a class out of range.
fn classes_of(target: &Tensor, classes: usize, ignore_index: i64) -> Result<Vec<Option<usize>>> {
    target
        .to_vec::<i64>()
        .into_iter()
        .map(|t| {
            if t == ignore_index {
                Ok(None)
            } else if t < 0 || t as usize >= classes {
                Err(Error::Index(format!("Target {t} is out of bounds.")))
            } else {
                Ok(Some(t as usize))
            }
        })
        .collect()
}

/// Per-row losses `-(1 - eps) log p[t] - eps / C * sum_c log p[c]` (0 for ignored rows).
fn row_losses<T: Element + Float>(
    x: &[T],
    classes: usize,
    rows: &[Option<usize>],
    eps: f64,
) -> Vec<f64> {
    let c = classes as f64;
    rows.iter()
        .enumerate()
        .map(|(i, t)| {
            let Some(t) = t else { return 0.0 };
            let row = &x[i * classes..(i + 1) * classes];
            let f = |v: &T| Element::to_f64(*v);
            let max = row.iter().fold(f64::NEG_INFINITY, |m, v| m.max(f(v)));
            let sum: f64 = row.iter().map(|v| (f(v) - max).exp()).sum();
            let lse = max + sum.ln();
            let mut loss = -(1.0 - eps) * (f(&row[*t]) - lse);
            if eps > 0.0 {
                let total: f64 = row.iter().map(f).sum();
                loss -= eps / c * (total - c * lse);
            }
            loss
        })
        .collect()
}

/// Cross entropy of logits `x` (N, C) against class indices `target` (N,), as
/// `nll_loss(log_softmax(x, 1), target)` with label smoothing; `NllLossBackward0`.
pub fn cross_entropy(
    x: &Tensor,
    target: &Tensor,
    ignore_index: i64,
    reduction: Reduction,
    smoothing: f64,
) -> Result<Tensor> {
    check_float(x, "cross_entropy")?;
    if x.ndim() != 2 || target.ndim() != 1 || target.dtype() != DType::I64 {
        return Err(Error::Runtime(
            "cross_entropy: expected 2-d logits and a 1-d int64 target".into(),
        ));
    }
    let (n, classes) = (x.shape()[0], x.shape()[1]);
    if target.shape()[0] != n {
        return Err(Error::Value(format!(
            "Expected input batch_size ({n}) to match target batch_size ({}).",
            target.shape()[0]
        )));
    }
    let rows = classes_of(target, classes, ignore_index)?;
    let xc = dense(x)?;
    let losses = crate::float_dispatch!(x.dtype(), T => {
        let v = xc
            .contiguous_slice::<T>()
            .ok_or_else(|| Error::Runtime("cross_entropy: unexpected layout".into()))?;
        row_losses(v, classes, &rows, smoothing)
    });
    let kept = rows.iter().filter(|r| r.is_some()).count();
    let out = match reduction {
        Reduction::None => {
            let t = Tensor::from_vec(losses, &[n])?;
            crate::kernels::cast(&t, x.dtype())?
        }
        Reduction::Sum => Tensor::scalar(losses.iter().sum(), x.dtype()),
        Reduction::Mean => Tensor::scalar(losses.iter().sum::<f64>() / kept as f64, x.dtype()),
    };
    Ok(track(
        out,
        &[Some(x), Some(target)],
        "NllLossBackward0",
        || Rule::CrossEntropy {
            input: Saved::input(x),
            target: Saved::input(target),
            ignore_index,
            reduction,
            smoothing,
        },
    ))
}

/// `(softmax(x) - (1 - eps) onehot(t) - eps / C) * w * g`, where `w` is 0 on ignored rows
/// and `1 / kept` (mean) or 1 elsewhere; differentiable through `softmax`.
fn cross_entropy_grad(
    x: &Tensor,
    target: &Tensor,
    g: &Tensor,
    ignore_index: i64,
    reduction: Reduction,
    eps: f64,
) -> Result<Tensor> {
    let (n, classes) = (x.shape()[0], x.shape()[1]);
    let rows = classes_of(target, classes, ignore_index)?;
    let kept = rows.iter().filter(|r| r.is_some()).count();
    let scale = if reduction == Reduction::Mean {
        1.0 / kept as f64
    } else {
        1.0
    };
    let mut coef = vec![0.0f64; n * classes];
    let mut weight = vec![0.0f64; n];
    for (i, t) in rows.iter().enumerate() {
        if let Some(t) = t {
            coef[i * classes..(i + 1) * classes].fill(eps / classes as f64);
            coef[i * classes + t] += 1.0 - eps;
            weight[i] = scale;
        }
    }
    let dtype = x.dtype();
    let coef = crate::kernels::cast(&Tensor::from_vec(coef, &[n, classes])?, dtype)?;
    let weight = crate::kernels::cast(&Tensor::from_vec(weight, &[n, 1])?, dtype)?;
    let p = reduce::softmax(x, 1, None, false)?;
    let d = arith::mul(
        &arith::sub(&p, Operand::Tensor(&coef), 1.0)?,
        Operand::Tensor(&weight),
    )?;
    let g = if reduction == Reduction::None {
        shape::reshape(g, &[n, 1])?
    } else {
        g.clone()
    };
    arith::mul(&d, Operand::Tensor(&g))
}

// ---- optimiser steps ----------------------------------------------------------------------

/// Which update `optim_step` runs, with its hyper-parameters in PyTorch's argument order.
#[derive(Clone, Copy, Debug)]
pub enum Step {
    Sgd {
        lr: f64,
        momentum: f64,
        dampening: f64,
        weight_decay: f64,
        nesterov: bool,
        maximize: bool,
        first: bool,
    },
    Adam {
        lr: f64,
        beta1: f64,
        beta2: f64,
        eps: f64,
        weight_decay: f64,
        amsgrad: bool,
        maximize: bool,
        decoupled: bool,
        step: f64,
    },
    RmsProp {
        lr: f64,
        alpha: f64,
        eps: f64,
        weight_decay: f64,
        momentum: f64,
        centered: bool,
        maximize: bool,
    },
    Adagrad {
        lr: f64,
        lr_decay: f64,
        eps: f64,
        weight_decay: f64,
        maximize: bool,
        step: f64,
    },
}

impl Step {
    /// Builds a step from its name and hyper-parameters (booleans as 0/1).
    pub fn parse(kind: &str, h: &[f64]) -> Result<Step> {
        let want = match kind {
            "sgd" => 7,
            "adam" => 9,
            "rmsprop" => 7,
            "adagrad" => 6,
            _ => return Err(Error::Value(format!("unknown optimizer step '{kind}'"))),
        };
        if h.len() != want {
            return Err(Error::Value(format!(
                "optimizer step '{kind}' takes {want} hyper-parameters, got {}",
                h.len()
            )));
        }
        let b = |v: f64| v != 0.0;
        Ok(match kind {
            "sgd" => Step::Sgd {
                lr: h[0],
                momentum: h[1],
                dampening: h[2],
                weight_decay: h[3],
                nesterov: b(h[4]),
                maximize: b(h[5]),
                first: b(h[6]),
            },
            "adam" => Step::Adam {
                lr: h[0],
                beta1: h[1],
                beta2: h[2],
                eps: h[3],
                weight_decay: h[4],
                amsgrad: b(h[5]),
                maximize: b(h[6]),
                decoupled: b(h[7]),
                step: h[8],
            },
            "rmsprop" => Step::RmsProp {
                lr: h[0],
                alpha: h[1],
                eps: h[2],
                weight_decay: h[3],
                momentum: h[4],
                centered: b(h[5]),
                maximize: b(h[6]),
            },
            _ => Step::Adagrad {
                lr: h[0],
                lr_decay: h[1],
                eps: h[2],
                weight_decay: h[3],
                maximize: b(h[4]),
                step: h[5],
            },
        })
    }

    /// The state buffers the step updates, in order (`None`: an unused optional one).
    fn buffers(&self) -> Vec<bool> {
        match *self {
            Step::Sgd { momentum, .. } => vec![momentum != 0.0],
            Step::Adam { amsgrad, .. } => vec![true, true, amsgrad],
            Step::RmsProp {
                momentum, centered, ..
            } => vec![true, momentum > 0.0, centered],
            Step::Adagrad { .. } => vec![true],
        }
    }
}

/// `torch.lerp`'s formula (exact at both ends).
#[inline]
fn lerp<T: Float>(a: T, b: T, w: T) -> T {
    let half = T::from(0.5).unwrap_or_else(T::one);
    if w.abs() < half {
        a + w * (b - a)
    } else {
        b - (b - a) * (T::one() - w)
    }
}

/// One chunk of a step: the parameter, its gradient and the state buffers, aligned.
struct Piece<'a, T> {
    p: &'a mut [T],
    g: &'a [T],
    bufs: Vec<Option<&'a mut [T]>>,
}

/// Reslices `s` to `n` elements (so the loops below are free of bounds checks).
fn fit<T>(s: Option<&mut [T]>, n: usize) -> Option<&mut [T]> {
    s.and_then(|s| s.get_mut(..n))
}

fn run_step<T: Element + Float>(step: Step, piece: Piece<'_, T>) {
    let c = |v: f64| T::from(v).unwrap_or_else(T::nan);
    let Piece { p, g, mut bufs } = piece;
    let n = p.len().min(g.len());
    let (p, g) = (&mut p[..n], &g[..n]);
    let mut take = |i: usize| fit(bufs.get_mut(i).and_then(|b| b.take()), n);
    // the gradient after `maximize` and (coupled) weight decay
    let grad = |maximize: bool, weight_decay: f64| {
        let wd = c(weight_decay);
        move |p: T, g: T| {
            let d = if maximize { -g } else { g };
            if weight_decay != 0.0 {
                d + wd * p
            } else {
                d
            }
        }
    };
    match step {
        Step::Sgd {
            lr,
            momentum,
            dampening,
            weight_decay,
            nesterov,
            maximize,
            first,
        } => {
            let (mom, damp, neg_lr) = (c(momentum), c(1.0 - dampening), c(-lr));
            let grad = grad(maximize, weight_decay);
            match take(0) {
                Some(buf) => {
                    for ((p, &g), b) in p.iter_mut().zip(g).zip(buf) {
                        let d = grad(*p, g);
                        *b = if first { d } else { *b * mom + damp * d };
                        let d = if nesterov { d + mom * *b } else { *b };
                        *p = *p + neg_lr * d;
                    }
                }
                None => {
                    for (p, &g) in p.iter_mut().zip(g) {
                        *p = *p + neg_lr * grad(*p, g);
                    }
                }
            }
        }
        Step::Adam {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
            amsgrad,
            maximize,
            decoupled,
            step,
        } => {
            let bc1 = 1.0 - beta1.powf(step);
            let bc2_sqrt = c((1.0 - beta2.powf(step)).sqrt());
            let neg_step_size = c(-(lr / bc1));
            // decoupled decay multiplies the weight first (by exactly 1 without it)
            let decay = c(if decoupled {
                1.0 - lr * weight_decay
            } else {
                1.0
            });
            let grad = grad(maximize, if decoupled { 0.0 } else { weight_decay });
            let (w1, b2, w2, eps) = (c(1.0 - beta1), c(beta2), c(1.0 - beta2), c(eps));
            let (Some(m), Some(v)) = (take(0), take(1)) else {
                return;
            };
            // moments of one element; returns the new second moment
            let moments = |p: &mut T, g: T, m: &mut T, v: &mut T| {
                *p = *p * decay;
                let d = grad(*p, g);
                *m = lerp(*m, d, w1);
                *v = *v * b2 + w2 * d * d;
            };
            let update = |p: &mut T, m: T, second: T| {
                *p = *p + neg_step_size * m / (second.sqrt() / bc2_sqrt + eps);
            };
            let elems = p.iter_mut().zip(g).zip(m.iter_mut().zip(v.iter_mut()));
            match if amsgrad { take(2) } else { None } {
                Some(vmax) => {
                    for (((p, &g), (m, v)), vm) in elems.zip(vmax) {
                        moments(p, g, m, v);
                        *vm = vm.max(*v);
                        update(p, *m, *vm);
                    }
                }
                None => {
                    for ((p, &g), (m, v)) in elems {
                        moments(p, g, m, v);
                        update(p, *m, *v);
                    }
                }
            }
        }
        Step::RmsProp {
            lr,
            alpha,
            eps,
            weight_decay,
            momentum,
            centered,
            maximize,
        } => {
            let (a, wa, eps, mom, neg_lr) = (c(alpha), c(1.0 - alpha), c(eps), c(momentum), c(-lr));
            let grad = grad(maximize, weight_decay);
            let Some(sq) = take(0) else { return };
            let square = |s: &mut T, d: T| *s = *s * a + wa * d * d;
            let step = |p: &mut T, d: T, avg: T, buf: Option<&mut T>| match buf {
                Some(b) => {
                    *b = *b * mom + d / avg;
                    *p = *p + neg_lr * *b;
                }
                None => *p = *p + neg_lr * d / avg,
            };
            let elems = p.iter_mut().zip(g).zip(sq.iter_mut());
            match (take(1), if centered { take(2) } else { None }) {
                (buf, Some(avg_g)) => {
                    let mut bufs = buf.map(|b| b.iter_mut());
                    for (((p, &g), s), ga) in elems.zip(avg_g) {
                        let d = grad(*p, g);
                        square(s, d);
                        *ga = lerp(*ga, d, wa);
                        let avg = (*s - *ga * *ga).sqrt() + eps;
                        step(p, d, avg, bufs.as_mut().and_then(|b| b.next()));
                    }
                }
                (Some(buf), None) => {
                    for (((p, &g), s), b) in elems.zip(buf) {
                        let d = grad(*p, g);
                        square(s, d);
                        step(p, d, s.sqrt() + eps, Some(b));
                    }
                }
                (None, None) => {
                    for ((p, &g), s) in elems {
                        let d = grad(*p, g);
                        square(s, d);
                        step(p, d, s.sqrt() + eps, None);
                    }
                }
            }
        }
        Step::Adagrad {
            lr,
            lr_decay,
            eps,
            weight_decay,
            maximize,
            step,
        } => {
            let neg_clr = c(-(lr / (1.0 + (step - 1.0) * lr_decay)));
            let eps = c(eps);
            let grad = grad(maximize, weight_decay);
            let Some(sum) = take(0) else { return };
            for ((p, &g), s) in p.iter_mut().zip(g).zip(sum) {
                let d = grad(*p, g);
                *s = *s + d * d;
                *p = *p + neg_clr * d / (s.sqrt() + eps);
            }
        }
    }
}

/// Elements per parallel task of an optimiser step.
const STEP_CHUNK: usize = 1 << 14;

fn step_typed<T: Element + Float>(
    step: Step,
    p: &Tensor,
    grad: &Tensor,
    bufs: &[Option<Tensor>],
) -> Result<()> {
    let n = p.numel();
    // The gradient is read from its own storage when that is distinct and dense; otherwise
    // from a copy (so no mutable borrow below aliases it).
    let aliased = grad.same_storage(p) || bufs.iter().flatten().any(|b| b.same_storage(grad));
    let copy;
    let g: &[T] = match grad.contiguous_slice::<T>() {
        Some(s) if !aliased => s,
        _ => {
            copy = grad.to_vec::<T>();
            &copy
        }
    };
    let offset = p.layout().offset;
    // SAFETY: `optim_step` checked that the parameter and every buffer live in distinct
    // storages, and the gradient is either in yet another storage or copied, so these
    // mutable borrows alias nothing; no other borrow of them is held during the update.
    let pslice = unsafe { T::slice_mut(p.storage().buffer_mut()) }
        .and_then(|s| s.get_mut(offset..offset + n))
        .ok_or_else(|| Error::Runtime("optimizer step: parameter buffer mismatch".into()))?;
    let mut bslices = Vec::with_capacity(bufs.len());
    for b in bufs {
        bslices.push(match b {
            Some(b) => {
                let o = b.layout().offset;
                // SAFETY: as above.
                let s = unsafe { T::slice_mut(b.storage().buffer_mut()) }
                    .and_then(|s| s.get_mut(o..o + n))
                    .ok_or_else(|| Error::Runtime("optimizer step: buffer mismatch".into()))?;
                Some(s)
            }
            None => None,
        });
    }
    if n < PARALLEL_THRESHOLD {
        run_step(
            step,
            Piece {
                p: pslice,
                g,
                bufs: bslices,
            },
        );
        return Ok(());
    }
    let mut buf_chunks: Vec<_> = bslices
        .into_iter()
        .map(|b| b.map(|s| s.chunks_mut(STEP_CHUNK)))
        .collect();
    let pieces: Vec<Piece<'_, T>> = pslice
        .chunks_mut(STEP_CHUNK)
        .zip(g.chunks(STEP_CHUNK))
        .map(|(p, g)| Piece {
            p,
            g,
            bufs: buf_chunks
                .iter_mut()
                .map(|it| it.as_mut().and_then(|it| it.next()))
                .collect(),
        })
        .collect();
    team::for_each_item(pieces, |piece| run_step(step, piece));
    Ok(())
}

/// One optimiser update of `p` in place from `grad`, updating the state `bufs` (which the
/// step's kind and options decide: see `Step::buffers`). `p` and the buffers must be
/// contiguous, of one floating dtype and shape, in distinct storages. Bumps their versions.
pub fn optim_step(step: Step, p: &Tensor, grad: &Tensor, bufs: &[Option<Tensor>]) -> Result<()> {
    let dtype = p.dtype();
    check_float(p, "optimizer step")?;
    let mismatch = |what: &str| {
        Error::Runtime(format!(
            "optimizer step: {what} must match the parameter (dtype {dtype}, shape {:?}, contiguous)",
            p.shape()
        ))
    };
    if !p.is_contiguous() {
        return Err(mismatch("the parameter"));
    }
    if grad.dtype() != dtype || grad.shape() != p.shape() {
        return Err(mismatch("the gradient"));
    }
    let wanted = step.buffers();
    if bufs.len() < wanted.iter().rposition(|&w| w).map_or(0, |i| i + 1) {
        return Err(Error::Runtime(
            "optimizer step: missing state buffers".into(),
        ));
    }
    let mut used: Vec<Option<Tensor>> = Vec::with_capacity(wanted.len());
    for (i, want) in wanted.iter().enumerate() {
        let b = bufs.get(i).cloned().flatten();
        match (want, b) {
            (true, Some(b)) => {
                if b.dtype() != dtype || b.shape() != p.shape() || !b.is_contiguous() {
                    return Err(mismatch("a state buffer"));
                }
                if b.same_storage(p) || used.iter().flatten().any(|u| u.same_storage(&b)) {
                    return Err(Error::Runtime(
                        "optimizer step: state buffers must not share memory".into(),
                    ));
                }
                used.push(Some(b));
            }
            (true, None) => {
                return Err(Error::Runtime(
                    "optimizer step: missing state buffers".into(),
                ))
            }
            (false, _) => used.push(None),
        }
    }
    match dtype {
        DType::F32 => step_typed::<f32>(step, p, grad, &used)?,
        DType::F64 => step_typed::<f64>(step, p, grad, &used)?,
        _ => return Err(mismatch("the parameter")),
    }
    p.bump_version();
    for b in used.iter().flatten() {
        b.bump_version();
    }
    Ok(())
}

// ---- random fills -------------------------------------------------------------------------

/// Fills `t` in place with `values(n)` (float64 samples) cast to its floating dtype; `kernel`
/// names PyTorch's kernel in the error for other dtypes.
fn fill_random(
    t: &Tensor,
    kernel: &'static str,
    values: impl FnOnce(usize) -> Vec<f64>,
) -> Result<()> {
    let dtype = t.dtype();
    if !dtype.is_floating_point() {
        return Err(Error::NotImplementedFor {
            op: kernel,
            type_word: super::reduce::type_word(dtype),
        });
    }
    inplace::apply(t, None, |pre| {
        let v = values(pre.numel());
        let buf = match dtype {
            DType::F32 => Buffer::F32(v.into_iter().map(|x| x as f32).collect()),
            _ => Buffer::F64(v.into()),
        };
        Tensor::from_buffer(buf, pre.shape())
    })
}

/// `t.uniform_(from, to)`.
pub fn uniform_(t: &Tensor, from: f64, to: f64) -> Result<()> {
    if from > to {
        return Err(Error::Runtime(format!(
            "uniform_ expects to return a [from, to) range, but found from={from} > to={to}"
        )));
    }
    fill_random(t, "check_uniform_bounds", |n| {
        let mut v = crate::random::uniform_vec(n);
        v.iter_mut().for_each(|x| *x = from + (to - from) * *x);
        v
    })
}

/// `t.normal_(mean, std)`.
pub fn normal_(t: &Tensor, mean: f64, std: f64) -> Result<()> {
    if std < 0.0 {
        return Err(Error::Runtime(format!(
            "normal expects std >= 0.0, but found std {std}"
        )));
    }
    fill_random(t, "normal_kernel_cpu", |n| {
        let mut v = crate::random::normal_vec(n);
        v.iter_mut().for_each(|x| *x = mean + std * *x);
        v
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_stays_in_range_and_normal_has_its_moments() {
        let t = Tensor::zeros(&[1000], DType::F64).unwrap();
        uniform_(&t, -2.0, 3.0).unwrap();
        assert!(t.to_vec::<f64>().iter().all(|&x| (-2.0..3.0).contains(&x)));
        normal_(&t, 1.0, 0.5).unwrap();
        let v = t.to_vec::<f64>();
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        assert!((mean - 1.0).abs() < 0.1, "{mean}");
        assert!(uniform_(&t, 1.0, 0.0).is_err());
        assert!(normal_(&Tensor::zeros(&[2], DType::I64).unwrap(), 0.0, 1.0).is_err());
    }

    #[test]
    fn cross_entropy_matches_log_softmax_by_hand() {
        let x = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 0.5, 0.5, 0.5], &[2, 3]).unwrap();
        let t = Tensor::from_vec(vec![2i64, 0], &[2]).unwrap();
        let loss = cross_entropy(&x, &t, -100, Reduction::Mean, 0.0).unwrap();
        let lse0 = (1f64.exp() + 2f64.exp() + 3f64.exp()).ln();
        let expected = ((lse0 - 3.0) + 3f64.ln()) / 2.0;
        assert!((loss.to_vec::<f64>()[0] - expected).abs() < 1e-12);
        let bad = Tensor::from_vec(vec![3i64, 0], &[2]).unwrap();
        assert!(matches!(
            cross_entropy(&x, &bad, -100, Reduction::Mean, 0.0),
            Err(Error::Index(_))
        ));
    }

    #[test]
    fn sgd_step_with_momentum_and_a_large_parameter() {
        let n = PARALLEL_THRESHOLD + 5;
        let p = Tensor::from_vec(vec![1.0f32; n], &[n]).unwrap();
        let g = Tensor::from_vec(vec![0.5f32; n], &[n]).unwrap();
        let buf = Tensor::zeros(&[n], DType::F32).unwrap();
        let step = |first| Step::Sgd {
            lr: 0.1,
            momentum: 0.9,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
            maximize: false,
            first,
        };
        optim_step(step(true), &p, &g, &[Some(buf.clone())]).unwrap();
        optim_step(step(false), &p, &g, &[Some(buf.clone())]).unwrap();
        // buf: 0.5 then 0.95; p: 1 - 0.05 - 0.095
        let v = p.to_vec::<f32>();
        assert!(v.iter().all(|&x| (x - 0.855).abs() < 1e-6), "{}", v[n - 1]);
        assert!(optim_step(step(false), &p, &g, &[Some(p.clone())]).is_err());
    }
}
