//! Indexing: `__getitem__`/`__setitem__` (ints, slices, None, Ellipsis, masks, integer
//! tensors), `index_select`, `gather`, `scatter`, `scatter_add`, `masked_fill`,
//! `masked_select`, `index_add`, `take`, and their backward rules.

use super::{Ctx, Grads};
use crate::error::Result;
use crate::tensor::Tensor;

#[derive(Clone)]
pub enum Backward {}

impl Backward {
    pub fn name(&self) -> &'static str {
        match *self {}
    }

    pub fn has_saved(&self) -> bool {
        match *self {}
    }

    pub fn apply(&self, _grad: &Tensor, _ctx: &Ctx) -> Result<Grads> {
        match *self {}
    }
}
