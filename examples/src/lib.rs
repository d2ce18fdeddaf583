//! **No examples yet.** Runnable servers (the seed echo program, `echo-axum`, the browser
//! chat) arrive with the driver crates; see the project README's roadmap. The protocol core
//! already runs end to end in `longpoll-core`'s simulation tests.
