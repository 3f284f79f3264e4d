//! Raw bytes as a users file: parse → validate → plan → render → verify.
#![no_main]

#[path = "../../tests/common/property.rs"]
mod property;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    property::check(data);
});
