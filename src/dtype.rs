//! Data types and PyTorch's type-promotion rules.
//!
//! Promotion (as `torch.result_type`): operands are ranked by category (bool < integer <
//! floating). Dimensioned tensors take part first; zero-dim tensors only raise the result's
//! category, and Python scalars only raise it further (a Python float turns an integer
//! result into the default float dtype, but never widens a float32 tensor).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    Bool,
    I64,
    F32,
    F64,
}

/// The category of a value, for promotion: bool < integral < floating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Category {
    Bool,
    Integral,
    Floating,
}

pub const DEFAULT_FLOAT: DType = DType::F32;

impl DType {
    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::I64 => "int64",
            DType::F32 => "float32",
            DType::F64 => "float64",
        }
    }

    /// PyTorch's legacy type name, used in some error messages (`torch.FloatTensor`).
    pub fn legacy_type_name(self) -> &'static str {
        match self {
            DType::Bool => "torch.BoolTensor",
            DType::I64 => "torch.LongTensor",
            DType::F32 => "torch.FloatTensor",
            DType::F64 => "torch.DoubleTensor",
        }
    }

    pub fn is_floating_point(self) -> bool {
        matches!(self, DType::F32 | DType::F64)
    }

    pub fn category(self) -> Category {
        match self {
            DType::Bool => Category::Bool,
            DType::I64 => Category::Integral,
            DType::F32 | DType::F64 => Category::Floating,
        }
    }

    pub fn size_of(self) -> usize {
        match self {
            DType::Bool => 1,
            DType::F32 => 4,
            DType::I64 | DType::F64 => 8,
        }
    }

    /// PyTorch's ScalarType word used in many messages ("Long", "Float").
    pub fn type_word(self) -> &'static str {
        match self {
            DType::Bool => "Bool",
            DType::I64 => "Long",
            DType::F32 => "Float",
            DType::F64 => "Double",
        }
    }

    /// The smallest dtype that holds both (used within one priority class).
    pub fn promote(self, other: DType) -> DType {
        self.max(other)
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())
    }
}

/// A Python number taking part in an operation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar {
    Bool(bool),
    Int(i64),
    Float(f64),
}

impl Scalar {
    pub fn to_f64(self) -> f64 {
        match self {
            Scalar::Bool(b) => b as i64 as f64,
            Scalar::Int(i) => i as f64,
            Scalar::Float(x) => x,
        }
    }

    pub fn category(self) -> Category {
        match self {
            Scalar::Bool(_) => Category::Bool,
            Scalar::Int(_) => Category::Integral,
            Scalar::Float(_) => Category::Floating,
        }
    }
}

/// One operand as promotion sees it.
#[derive(Debug, Clone, Copy)]
pub enum Operand {
    /// A tensor with at least one dimension.
    Dimensioned(DType),
    /// A zero-dim tensor.
    ZeroDim(DType),
    /// A Python scalar (wrapped number).
    Scalar(Category),
}

/// `torch.result_type` over a list of operands.
pub fn result_type(operands: &[Operand]) -> DType {
    let mut dimensioned: Option<DType> = None;
    let mut zero_dim: Option<DType> = None;
    let mut scalar: Option<Category> = None;
    for op in operands {
        match *op {
            Operand::Dimensioned(d) => dimensioned = Some(dimensioned.map_or(d, |x| x.promote(d))),
            Operand::ZeroDim(d) => zero_dim = Some(zero_dim.map_or(d, |x| x.promote(d))),
            Operand::Scalar(c) => scalar = Some(scalar.map_or(c, |x| x.max(c))),
        }
    }
    // A lower-priority class only matters when it is of a higher category.
    let mut result = dimensioned;
    if let Some(z) = zero_dim {
        result = Some(match result {
            None => z,
            Some(r) if z.category() > r.category() => z,
            Some(r) => r,
        });
    }
    if let Some(c) = scalar {
        let as_dtype = match c {
            Category::Bool => DType::Bool,
            Category::Integral => DType::I64,
            Category::Floating => DEFAULT_FLOAT,
        };
        result = Some(match result {
            None => as_dtype,
            Some(r) if c > r.category() => as_dtype,
            Some(r) => r,
        });
    }
    result.unwrap_or(DEFAULT_FLOAT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_float_does_not_upcast_float32() {
        let t = result_type(&[
            Operand::Dimensioned(DType::F32),
            Operand::Scalar(Category::Floating),
        ]);
        assert_eq!(t, DType::F32);
    }

    #[test]
    fn int_tensor_and_float_scalar_give_default_float() {
        let t = result_type(&[
            Operand::Dimensioned(DType::I64),
            Operand::Scalar(Category::Floating),
        ]);
        assert_eq!(t, DType::F32);
    }

    #[test]
    fn zero_dim_double_does_not_upcast_float_tensor() {
        let t = result_type(&[
            Operand::Dimensioned(DType::F32),
            Operand::ZeroDim(DType::F64),
        ]);
        assert_eq!(t, DType::F32);
        let t = result_type(&[
            Operand::Dimensioned(DType::I64),
            Operand::ZeroDim(DType::F64),
        ]);
        assert_eq!(t, DType::F64);
    }

    #[test]
    fn dimensioned_tensors_promote() {
        let t = result_type(&[
            Operand::Dimensioned(DType::F32),
            Operand::Dimensioned(DType::F64),
        ]);
        assert_eq!(t, DType::F64);
        let t = result_type(&[
            Operand::Dimensioned(DType::Bool),
            Operand::Scalar(Category::Integral),
        ]);
        assert_eq!(t, DType::I64);
    }
}
