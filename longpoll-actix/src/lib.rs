//! **Not implemented yet.** This crate will mount protocol v1 on actix-web 4. It exports
//! nothing today; see the project README's roadmap.
