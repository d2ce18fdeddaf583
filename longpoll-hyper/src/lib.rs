//! **Not implemented yet.** This crate will serve protocol v1 as a hyper 1.x `Service` and
//! hold the Rust client. It exports nothing today; see the project README's roadmap.
