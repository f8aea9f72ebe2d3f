//! What containers use: live resource samples (`stats`, read from cgroup
//! files by `crate::cgroup`) and disk usage (`disk`, for `/system/df`).

pub mod disk;
pub mod stats;
