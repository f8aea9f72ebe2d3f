//! Integration tests of the image store: real imports into temp dirs.
//! Runs as root (device nodes, whiteouts, ownership); fails loudly otherwise.

mod fuzz;
mod hostile;
mod lifecycle;
mod registry;
mod support;
