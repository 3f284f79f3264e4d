//! Users maps for the tests, the bench (`benches/pipeline.rs`) and the fuzz
//! target `users_structured` (`fuzz/`): one generator, whose choices come
//! from a seeded RNG or from the fuzzer's bytes. It needs only serde_json,
//! fastrand and tenantgen, so each of them includes this file with `#[path]`.

use serde_json::{Map, Value, json};
use tenantgen::config::QuotaKey;

/// Where the generator's choices come from.
pub trait Choices {
    /// A number in `0..n`; `n` is at least 1.
    fn below(&mut self, n: usize) -> usize;
    /// Any text at all, for a field broken on purpose.
    fn any_text(&mut self) -> String;
}

impl Choices for fastrand::Rng {
    fn below(&mut self, n: usize) -> usize {
        self.usize(..n)
    }

    fn any_text(&mut self) -> String {
        (0..self.usize(..8)).map(|_| self.char(..)).collect()
    }
}

/// What kind of users map to make.
pub struct Mix {
    /// One field in this many is broken on purpose (0: never), so the
    /// fuzzer also reaches the validator's error paths.
    pub broken_one_in: usize,
    /// Every user has an email, two namespaces (namespace-owners), two
    /// domains and a quota; roles come 3:1:1 in turn and apps for three
    /// users in four: a platform's load, for the bench. Otherwise each of
    /// those is chosen.
    pub full: bool,
}

impl Mix {
    /// Valid users with every role, optional field and value form.
    pub const VALID: Mix = Mix {
        broken_one_in: 0,
        full: false,
    };
    /// Mostly valid: one field in 25 is broken.
    pub const FUZZ: Mix = Mix {
        broken_one_in: 25,
        full: false,
    };
    /// Realistic and uniform, for measuring.
    pub const FULL: Mix = Mix {
        broken_one_in: 0,
        full: true,
    };
}

/// 60 % namespace-owners.
const ROLES: [&str; 5] = [
    "namespace-owner",
    "namespace-owner",
    "namespace-owner",
    "power-user",
    "admin",
];
const APPS: [&str; 2] = ["actualbudget", "freedify"];
/// Pieces of email local parts: every kind of character validation lets
/// through (and escaping must carry), and some it must refuse.
const EMAIL_PIECES: [&str; 21] = [
    "a", "b.c", "x+y", "%", "&", "*", "=", "?", "^", "|", "~", "!", "#", "/", "ü", "ß", "日本",
    "ø", "é", "%%", "-",
];
const HOSTILE_PIECES: [&str; 10] = ["${", "%{", "\"", "'", "\\", "{", "}", " ", "\n", "$"];

/// A seeded random users map of `count` valid users (`Mix::VALID`).
pub fn random_users(seed: u64, count: usize) -> Value {
    users(&mut fastrand::Rng::with_seed(seed), &Mix::VALID, count)
}

/// `count` users (fewer when a broken name repeats another).
pub fn users(choices: &mut impl Choices, mix: &Mix, count: usize) -> Value {
    let mut generator = Generator { choices, mix };
    let mut users = Map::new();
    for index in 0..count {
        let name = if mix.full {
            format!("user{index:05}")
        } else {
            let mut name = format!("{}{index}", generator.label());
            if generator.broken() {
                name.push_str(&generator.choices.any_text());
            }
            name
        };
        let user = generator.user(index, &name);
        users.insert(name, user);
    }
    Value::Object(users)
}

struct Generator<'a, C> {
    choices: &'a mut C,
    mix: &'a Mix,
}

impl<C: Choices> Generator<'_, C> {
    fn chance(&mut self, numerator: usize, denominator: usize) -> bool {
        self.choices.below(denominator) < numerator
    }

    fn pick<'t, T>(&mut self, items: &'t [T]) -> &'t T {
        &items[self.choices.below(items.len())]
    }

    fn broken(&mut self) -> bool {
        self.mix.broken_one_in > 0 && self.choices.below(self.mix.broken_one_in) == 0
    }

    /// A DNS label of 1 to 8 characters, possibly starting with a digit.
    fn label(&mut self) -> String {
        const FIRST: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        const REST: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789-";
        let mut label = String::from(*self.pick(FIRST) as char);
        for _ in 0..self.choices.below(8) {
            label.push(*self.pick(REST) as char);
        }
        if label.ends_with('-') {
            label.push('x');
        }
        label
    }

    fn user(&mut self, index: usize, name: &str) -> Value {
        let mut fields = Map::new();
        let role = if self.mix.full {
            ROLES[index % ROLES.len()]
        } else if self.broken() {
            "root"
        } else {
            self.pick(&ROLES)
        };
        fields.insert("role".into(), json!(role));
        if self.mix.full || self.chance(3, 4) {
            fields.insert("email".into(), json!(self.email(name)));
        }
        let owner = role == "namespace-owner";
        if owner && (self.mix.full || self.chance(1, 2)) {
            let count = if self.mix.full {
                2
            } else {
                1 + self.choices.below(3)
            };
            let namespaces: Vec<String> = (0..count)
                .map(|n| match (self.mix.full, n) {
                    (true, 0) => format!("{name}-prod"),
                    (true, _) => format!("{name}-dev"),
                    (false, _) => format!("{name}-{}{n}", self.label()),
                })
                .collect();
            fields.insert("namespaces".into(), json!(namespaces));
        }
        if self.mix.full || self.chance(1, 2) {
            let count = if self.mix.full {
                2
            } else {
                1 + self.choices.below(3)
            };
            let domains: Vec<String> = (0..count)
                .map(|n| match (self.mix.full, n) {
                    (true, 0) => format!("{name}.example.com"),
                    (true, _) => format!("app.{name}.example.com"),
                    (false, _) => format!("{}{n}.{name}.example.com", self.label()),
                })
                .collect();
            fields.insert("domains".into(), json!(domains));
        }
        // Only an owner's namespaces take a quota (otherwise it is a warning).
        if owner && (self.mix.full || self.chance(1, 2)) {
            fields.insert("quota".into(), self.quota());
        }
        let apps: Vec<&str> = if self.mix.full {
            match index % 4 {
                0 => vec![],
                1 => vec![APPS[0]],
                2 => vec![APPS[1]],
                _ => APPS.to_vec(),
            }
        } else {
            APPS.into_iter().filter(|_| self.chance(1, 2)).collect()
        };
        if self.mix.full || !apps.is_empty() {
            fields.insert("apps".into(), json!(apps));
        }
        Value::Object(fields)
    }

    /// Unique per user (one OIDC identity per user): the name is in it.
    fn email(&mut self, name: &str) -> String {
        if self.mix.full {
            return format!("{name}@example.org");
        }
        let mut local = String::new();
        for _ in 0..=self.choices.below(3) {
            let piece = self.pick(&EMAIL_PIECES);
            local.push_str(piece);
        }
        if self.broken() {
            let piece = self.pick(&HOSTILE_PIECES);
            local.push_str(piece);
        }
        let domain = self.label();
        let tld = self.pick(&["org", "example.com", "dev"]);
        format!("{local}.{name}@{domain}.{tld}")
    }

    /// One to four quota keys in short or long form, each set once.
    fn quota(&mut self) -> Value {
        let mut quota = Map::new();
        let mut keys = Vec::new();
        for _ in 0..=self.choices.below(4) {
            let name = *self.pick(&QuotaKey::INPUT_NAMES);
            let key = QuotaKey::from_input_name(name);
            if keys.contains(&key) && !self.broken() {
                continue;
            }
            keys.push(key);
            let value = self.quantity();
            quota.insert(name.to_string(), value);
        }
        Value::Object(quota)
    }

    /// Kubernetes quantities as numbers and strings, in every notation.
    fn quantity(&mut self) -> Value {
        if self.broken() {
            return match self.choices.below(3) {
                0 => json!(self.choices.below(1000) as f64 / 7.0),
                1 => json!(self.choices.any_text()),
                _ => json!(-1),
            };
        }
        const SUFFIXES: [&str; 9] = ["", "m", "Ki", "Mi", "Gi", "k", "M", "G", "e3"];
        match self.choices.below(3) {
            0 => json!(1 + self.choices.below(1_000_000)),
            1 => json!(format!(
                "{}{}",
                1 + self.choices.below(512),
                self.pick(&SUFFIXES)
            )),
            _ => json!(format!(
                "{}.{}",
                self.choices.below(100),
                1 + self.choices.below(99)
            )),
        }
    }
}
