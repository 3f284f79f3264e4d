//! Users maps that are mostly valid, with hostile strings where validation
//! lets odd characters through, so the renderer and escaping get exercised.
//! The maps come from the generator the tests and the bench use
//! (`tests/common/users.rs`), with the fuzzer's bytes as its choices;
//! invalid choices are rare (`Mix::FUZZ`): one bad field rejects the whole map.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};

#[path = "../../tests/common/property.rs"]
mod property;

#[allow(dead_code, reason = "the fuzzer drives the generator itself")]
#[path = "../../tests/common/users.rs"]
mod users;

/// The fuzzer's bytes as the generator's choices; once they run out,
/// every choice is the first.
struct Bytes<'a, 'b>(&'a mut Unstructured<'b>);

impl users::Choices for Bytes<'_, '_> {
    fn below(&mut self, n: usize) -> usize {
        self.0.choose_index(n).unwrap_or(0)
    }

    fn any_text(&mut self) -> String {
        String::arbitrary(self.0).unwrap_or_default()
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let mut choices = Bytes(&mut u);
    let count = users::Choices::below(&mut choices, 13);
    let users = users::users(&mut choices, &users::Mix::FUZZ, count);
    property::check(users.to_string().as_bytes());
});
