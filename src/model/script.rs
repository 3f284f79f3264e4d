//! Look-alike emails: a Cyrillic `а` in `аdmin@example.com` reads as the
//! Latin address. Usernames, namespaces and domains are ASCII by their own
//! rules, so only an email can mix scripts. UTS #39's single-script test
//! (`unicode-security`) allows what one writing system mixes on purpose
//! (Han with Hiragana and Katakana, say), and `unicode-script` names them.

use unicode_script::{Script, UnicodeScript};
use unicode_security::MixedScript;

/// Why `email` may be a look-alike: the first part (the local part or a
/// domain label) that mixes scripts, and which.
pub fn mixed(email: &str) -> Option<String> {
    let (local, domain) = email.split_once('@')?;
    let part = std::iter::once(local)
        .chain(domain.split('.'))
        .find(|part| !part.is_single_script())?;
    let mut scripts: Vec<Script> = Vec::new();
    for c in part.chars() {
        let script = c.script();
        if !matches!(script, Script::Common | Script::Inherited | Script::Unknown)
            && !scripts.contains(&script)
        {
            scripts.push(script);
        }
    }
    let names: Vec<&str> = scripts.iter().map(|script| script.full_name()).collect();
    Some(format!(
        "{} mixes the {} scripts, as a look-alike of another address would; check that it is the user's real address",
        crate::escape::shown(part),
        names.join(" and ")
    ))
}

#[cfg(test)]
mod tests {
    use super::mixed;

    #[test]
    fn a_cyrillic_letter_in_a_latin_address_is_named() {
        let found = mixed("\u{0430}dmin@example.com").unwrap();
        assert!(found.contains("Cyrillic and Latin"), "{found}");
        let found = mixed("admin@ex\u{0430}mple.com").unwrap();
        assert!(found.contains("\"ex\u{0430}mple\""), "{found}");
    }

    #[test]
    fn one_script_per_part_is_fine() {
        for email in [
            "alice@example.com",
            "\u{0438}\u{0432}\u{0430}\u{043d}@example.com",
            "\u{5c71}\u{7530}\u{3072}\u{3089}\u{30ab}@example.jp",
            "a.b-c_9@sub.example.com",
        ] {
            assert_eq!(mixed(email), None, "{email}");
        }
    }
}
