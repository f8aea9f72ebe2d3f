//! Pure rendering: what docker's formatters print, as functions over values.

pub mod format;
pub mod json;
pub mod table;
pub mod text;
pub mod units;
