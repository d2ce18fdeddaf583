#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| longpoll_fuzz::server_session(data));
