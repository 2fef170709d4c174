//! [`Ast`](crate::dockerfile::Ast) -> typed [`Instruction`]s grouped in stages.

mod error;

pub use error::InstructionError;
