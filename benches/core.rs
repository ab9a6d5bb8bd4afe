//! Criterion benchmarks of the core, without Python: elementwise kernels (small and large,
//! both sides of the parallel threshold), a full reduction, the tutorial's forward+backward
//! on 2x2, and building + releasing a long chain in the arena.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};
use ferrograd::autograd::backward;
use ferrograd::ops::arith::{self, Operand};
use ferrograd::ops::reduce;
use ferrograd::{DType, Scalar, Tensor};

fn s(x: f64) -> Operand<'static> {
    Operand::Scalar(Scalar::Float(x))
}

fn elementwise(c: &mut Criterion) {
    let mut g = c.benchmark_group("add");
    for n in [4usize, 1 << 14, 1 << 20] {
        let a = Tensor::ones(&[n], DType::F32).unwrap();
        let b = Tensor::ones(&[n], DType::F32).unwrap();
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |bench, _| {
            bench.iter(|| arith::add(black_box(&a), Operand::Tensor(&b), 1.0).unwrap())
        });
    }
    g.finish();
}

fn reduction(c: &mut Criterion) {
    let x = Tensor::ones(&[1 << 20], DType::F32).unwrap();
    c.bench_function("sum_1M", |b| {
        b.iter(|| reduce::sum(black_box(&x), None, false, None).unwrap())
    });
}

fn tutorial_backward(c: &mut Criterion) {
    c.bench_function("tutorial_graph_fwd_bwd", |b| {
        b.iter(|| {
            let x = Tensor::ones(&[2, 2], DType::F32).unwrap();
            x.set_requires_grad(true).unwrap();
            let y = arith::add(&x, s(2.0), 1.0).unwrap();
            let z = arith::mul(&arith::mul(&y, Operand::Tensor(&y)).unwrap(), s(3.0)).unwrap();
            let out = reduce::mean(&z, None, false, None).unwrap();
            backward(&[out], &[None], None, false).unwrap();
            black_box(x.grad())
        })
    });
}

fn chain(c: &mut Criterion) {
    c.bench_function("chain_10k_fwd_bwd_free", |b| {
        b.iter(|| {
            let x = Tensor::ones(&[1], DType::F32).unwrap();
            x.set_requires_grad(true).unwrap();
            let mut y = x.clone();
            for _ in 0..10_000 {
                y = arith::mul(&y, s(1.0001)).unwrap();
            }
            let out = reduce::sum(&y, None, false, None).unwrap();
            backward(&[out], &[None], None, false).unwrap();
            black_box(x.grad())
        })
    });
}

criterion_group!(benches, elementwise, reduction, tutorial_backward, chain);
criterion_main!(benches);
