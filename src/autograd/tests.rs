//! Engine and arena tests on the pure-Rust API.

use crate::autograd::{backward, grad, live_nodes};
use crate::dtype::{DType, Scalar};
use crate::ops::arith::{self, Operand};
use crate::ops::{inplace, reduce, unary};
use crate::tensor::Tensor;

fn s(x: f64) -> Operand<'static> {
    Operand::Scalar(Scalar::Float(x))
}

fn leaf(values: Vec<f64>, shape: &[usize]) -> Tensor {
    let t = Tensor::from_vec(values, shape).unwrap();
    t.set_requires_grad(true).unwrap();
    t
}

#[test]
fn tutorial_graph_gradient() {
    let x = Tensor::ones(&[2, 2], DType::F32).unwrap();
    x.set_requires_grad(true).unwrap();
    let y = arith::add(&x, s(2.0), 1.0).unwrap();
    let z = arith::mul(&arith::mul(&y, Operand::Tensor(&y)).unwrap(), s(3.0)).unwrap();
    let out = reduce::mean(&z, None, false, None).unwrap();
    assert_eq!(out.item().unwrap(), Scalar::Float(27.0));
    assert_eq!(out.grad_fn().unwrap().name(), "MeanBackward0");
    backward(&[out], &[None], None, false).unwrap();
    assert_eq!(x.grad().unwrap().to_vec::<f32>(), vec![4.5; 4]);
}

#[test]
fn second_derivative_through_create_graph() {
    let x = leaf(vec![2.0], &[]);
    let y = arith::pow(&x, Operand::Scalar(Scalar::Int(3))).unwrap();
    let g = grad(&[y], std::slice::from_ref(&x), &[None], None, true, false).unwrap();
    let g = g[0].clone().unwrap();
    assert_eq!(g.to_vec::<f64>(), vec![12.0]);
    let gg = grad(&[g], &[x], &[None], None, false, false).unwrap();
    assert_eq!(gg[0].clone().unwrap().to_vec::<f64>(), vec![12.0]);
}

#[test]
fn backward_twice_is_an_error_unless_retained() {
    let x = leaf(vec![1.0, 2.0], &[2]);
    let y = reduce::sum(&unary::exp(&x).unwrap(), None, false, None).unwrap();
    backward(std::slice::from_ref(&y), &[None], Some(true), false).unwrap();
    backward(std::slice::from_ref(&y), &[None], None, false).unwrap();
    let e = backward(&[y], &[None], None, false).unwrap_err();
    assert!(e
        .to_string()
        .starts_with("Trying to backward through the graph a second time"));
}

#[test]
fn inplace_modification_of_saved_tensor_is_detected() {
    let x = leaf(vec![1.0, 2.0, 3.0], &[3]);
    let b = arith::mul(&x, s(2.0)).unwrap();
    let c = arith::mul(&b, Operand::Tensor(&b)).unwrap();
    inplace::add_(&b, s(1.0), 1.0).unwrap();
    let out = reduce::sum(&c, None, false, None).unwrap();
    let e = backward(&[out], &[None], None, false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("modified by an inplace operation: [torch.DoubleTensor [3]], which is output 0 of Add, is at version 1; expected version 0 instead."), "{e}");
}

#[test]
fn inplace_on_leaf_requiring_grad_is_an_error() {
    let x = leaf(vec![1.0], &[1]);
    assert_eq!(
        inplace::add_(&x, s(1.0), 1.0).unwrap_err().to_string(),
        "a leaf Variable that requires grad is being used in an in-place operation."
    );
}

#[test]
fn broadcast_grads_are_summed_to_input_shape() {
    let a = leaf(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    let b = leaf(vec![10.0, 20.0, 30.0], &[3]);
    let y = reduce::sum(
        &arith::mul(&a, Operand::Tensor(&b)).unwrap(),
        None,
        false,
        None,
    )
    .unwrap();
    backward(&[y], &[None], None, false).unwrap();
    assert_eq!(b.grad().unwrap().to_vec::<f64>(), vec![5.0, 7.0, 9.0]);
    assert_eq!(a.grad().unwrap().shape(), &[2, 3]);
}

#[test]
fn long_chain_backpropagates_and_frees_without_recursion() {
    // Run on a small stack to prove neither backward nor freeing recurses.
    let handle = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            let before = live_nodes();
            let x = leaf(vec![1.0], &[1]);
            let mut y = x.clone();
            for _ in 0..100_000 {
                y = arith::mul(&y, s(1.0001)).unwrap();
            }
            let out = reduce::sum(&y, None, false, None).unwrap();
            backward(&[out], &[None], None, false).unwrap();
            let g = x.grad().unwrap().to_vec::<f64>()[0];
            assert!((g - 1.0001f64.powi(100_000)).abs() < 1e-6 * g);
            drop(y);
            drop(x);
            // Other tests run in parallel and hold a few nodes of their own: the 100k-node
            // chain must be gone, not the counter exactly equal.
            assert!(
                live_nodes() < before + 1000,
                "chain not freed: {} live",
                live_nodes()
            );
        })
        .unwrap();
    handle.join().unwrap();
}

#[test]
fn inplace_through_a_view_rebases_the_root() {
    use crate::ops::shape;
    let x = leaf(vec![1.0, 2.0, 3.0, 4.0], &[4]);
    let y = arith::mul(&x, s(2.0)).unwrap();
    let v = shape::view(&y, &[2, 2]).unwrap();
    inplace::mul_(&v, s(3.0)).unwrap();
    assert_eq!(y.to_vec::<f64>(), vec![6.0, 12.0, 18.0, 24.0]);
    assert_eq!(y.grad_fn().unwrap().name(), "CopySlices");
    assert_eq!(v.grad_fn().unwrap().name(), "AsStridedBackward0");
    let out = reduce::sum(&y, None, false, None).unwrap();
    backward(&[out], &[None], None, false).unwrap();
    assert_eq!(x.grad().unwrap().to_vec::<f64>(), vec![6.0; 4]);
}

#[test]
fn inplace_through_a_view_of_a_leaf_requiring_grad_is_an_error() {
    use crate::ops::shape;
    let x = leaf(vec![1.0, 2.0], &[2]);
    let v = shape::view(&x, &[2, 1]).unwrap();
    let e = inplace::add_(&v, s(1.0), 1.0).unwrap_err().to_string();
    assert_eq!(
        e,
        "a view of a leaf Variable that requires grad is being used in an in-place operation."
    );
}

#[test]
fn writing_a_grad_requiring_value_into_a_view_gives_the_root_history() {
    use crate::shape::Layout;
    let base = Tensor::zeros(&[4], DType::F64).unwrap();
    let w = leaf(vec![5.0, 7.0], &[2]);
    let region = base.alias_with_layout(Layout {
        shape: [2usize][..].into(),
        strides: [1usize][..].into(),
        offset: 1,
    });
    inplace::add_(&region, Operand::Tensor(&w), 1.0).unwrap();
    assert_eq!(base.to_vec::<f64>(), vec![0.0, 5.0, 7.0, 0.0]);
    let weights = Tensor::from_vec(vec![1.0, 10.0, 100.0, 1000.0], &[4]).unwrap();
    let out = reduce::sum(
        &arith::mul(&base, Operand::Tensor(&weights)).unwrap(),
        None,
        false,
        None,
    )
    .unwrap();
    backward(&[out], &[None], None, false).unwrap();
    assert_eq!(w.grad().unwrap().to_vec::<f64>(), vec![10.0, 100.0]);
}

#[test]
fn a_view_taken_before_a_write_through_another_view_regenerates_its_history() {
    use crate::ops::shape;
    let x = leaf(vec![1.0, 1.0, 1.0], &[3]);
    let y = arith::mul(&x, s(1.0)).unwrap();
    let v1 = shape::narrow(&y, 0, 0, 1).unwrap();
    let v2 = shape::narrow(&y, 0, 0, 1).unwrap();
    inplace::mul_(&v1, s(2.0)).unwrap();
    assert_eq!(v2.grad_fn().unwrap().name(), "AsStridedBackward0");
    let out = reduce::sum(&v2, None, false, None).unwrap();
    backward(&[out], &[None], None, false).unwrap();
    assert_eq!(x.grad().unwrap().to_vec::<f64>(), vec![2.0, 0.0, 0.0]);
}

/// Every op adds a node, and a million-op chain keeps them all: what a node weighs is the
/// memory such a graph needs (G1M in `benches/compare.py`). Large rules are boxed inside
/// `ops::Backward` and input shapes are packed (`InputMeta`) to keep it there.
#[test]
fn node_stays_small() {
    use crate::autograd::graph::{InputMeta, Node};
    use std::mem::size_of;
    assert!(size_of::<InputMeta>() <= 16, "{}", size_of::<InputMeta>());
    assert!(size_of::<crate::ops::Backward>() <= 80);
    assert!(size_of::<Node>() <= 200, "{}", size_of::<Node>());
    let meta = InputMeta::new(DType::F64, &[2, 3]);
    assert!(meta.shape_is(&[2, 3]) && !meta.shape_is(&[2, 3, 1]) && !meta.shape_is(&[2]));
    assert_eq!(meta.dtype(), DType::F64);
    for shape in [&[][..], &[5], &[1, 2, 3, 4], &[1 << 33], &[usize::MAX, 0]] {
        let meta = InputMeta::new(DType::F32, shape);
        assert_eq!(meta.shape().as_slice(), shape);
        assert!(meta.shape_is(shape));
    }
}
