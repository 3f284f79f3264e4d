//! Look-alike emails: a Cyrillic `а` in `аdmin@example.com` reads as the
//! Latin address. Usernames, namespaces and domains are ASCII by their own
//! rules, so only an email can mix scripts. Each part (the local part, each
//! domain label) is judged by the restriction levels of UTS #39
//! (`unicode-security`): one script, or Latin with Han, Kana or Hangul as
//! Chinese, Japanese and Korean write, is fine; anything looser (Latin
//! with Cyrillic or Greek, say) is warned about. `unicode-script` names the
//! scripts.

use unicode_script::{Script, UnicodeScript};
use unicode_security::{RestrictionLevel, RestrictionLevelDetection};

/// Why `email` may be a look-alike: the first part that mixes scripts
/// beyond what one writing system does, and which scripts.
pub fn mixed(email: &str) -> Option<String> {
    let (local, domain) = email.split_once('@')?;
    let (part, scripts) = std::iter::once(local)
        .chain(domain.split('.'))
        .find_map(|part| {
            // Punctuation and digits belong to every script (`Common`).
            let letters: String = part
                .chars()
                .filter(|c| !matches!(c.script(), Script::Common | Script::Inherited))
                .collect();
            let mixes =
                letters.as_str().detect_restriction_level() > RestrictionLevel::HighlyRestrictive;
            mixes.then(|| (part, scripts_of(&letters)))
        })?;
    Some(format!(
        "{} mixes the {} scripts, as a look-alike of another address would; check that it is the user's real address",
        crate::escape::shown(part),
        scripts.join(" and ")
    ))
}

/// The scripts of `letters`, in order of appearance.
fn scripts_of(letters: &str) -> Vec<&'static str> {
    let mut scripts: Vec<&'static str> = Vec::new();
    for c in letters.chars() {
        let name = c.script().full_name();
        if !scripts.contains(&name) {
            scripts.push(name);
        }
    }
    scripts
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
        let found = mixed("\u{03bf}pen@example.com").unwrap();
        assert!(found.contains("Greek and Latin"), "{found}");
    }

    #[test]
    fn one_writing_system_per_part_is_fine() {
        for email in [
            "alice@example.com",
            "\u{0438}\u{0432}\u{0430}\u{043d}@example.com",
            "\u{5c71}\u{7530}\u{3072}\u{3089}\u{30ab}@example.jp",
            "\u{65e5}\u{672c}.taro%x@example.jp",
            "jos\u{00e9}@ex\u{00e4}mple.com",
            "a.b-c_9@sub.example.com",
        ] {
            assert_eq!(mixed(email), None, "{email}");
        }
    }
}
