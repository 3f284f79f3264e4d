//! Which namespaces no tenant may claim. A tenant gets `admin` in each of
//! its namespaces, so a platform namespace in a users entry would hand the
//! platform over. The floor below holds whatever the config says; the
//! well-known list may be lifted name by name (`namespaces.allow`), and
//! `namespaces.reserved` adds the deployment's own.

use crate::names;
use crate::problem::Problem;

use super::Config;

/// Namespaces of common platform software, reserved unless
/// `namespaces.allow` lists them (README, "Configuration").
pub const WELL_KNOWN: [&str; 20] = [
    "argocd",
    "authentik",
    "cert-manager",
    "external-dns",
    "external-secrets",
    "forgejo",
    "headscale",
    "ingress-nginx",
    "k8s-portal",
    "keycloak",
    "kubernetes-dashboard",
    "local-path-storage",
    "monitoring",
    "openbao",
    "rook-ceph",
    "tigera-operator",
    "traefik",
    "vault",
    "velero",
    "woodpecker",
];

/// The floor: Kubernetes' own namespaces, every `*-system` one, and the
/// deployer's. No config lifts it.
fn floor(config: &Config, namespace: &str) -> bool {
    namespace == "default"
        || namespace.starts_with("kube-")
        || namespace.ends_with("-system")
        || namespace == config.deployer.namespace
}

impl Config {
    /// Why `namespace` is reserved for the platform, if it is.
    pub fn reserved_namespace(&self, namespace: &str) -> Option<&'static str> {
        let settings = &self.namespaces;
        if floor(self, namespace) {
            Some("default, kube-*, *-system and the deployer's namespace are the platform's")
        } else if settings.reserved.iter().any(|name| name == namespace) {
            Some("namespaces.reserved lists it")
        } else if WELL_KNOWN.contains(&namespace) && !settings.allow.iter().any(|n| n == namespace)
        {
            Some(
                "it is a well-known platform namespace; namespaces.allow can release it if it really is a tenant's",
            )
        } else {
            None
        }
    }
}

/// `reserved` and `allow` hold namespace names; `allow` only well-known
/// ones, never the floor or a name `reserved` lists.
pub(super) fn check(config: &Config, problems: &mut Vec<Problem>) {
    let settings = &config.namespaces;
    for (key, list) in [("reserved", &settings.reserved), ("allow", &settings.allow)] {
        for name in list {
            if let Err(problem) = names::check_dns_label(name) {
                problems.push(Problem::new(
                    format!("namespaces.{key}"),
                    format!("{name:?} is not a namespace name: it {problem}"),
                ));
            }
        }
    }
    for name in &settings.allow {
        let why = if floor(config, name) {
            "is always reserved (default, kube-*, *-system, the deployer's namespace); no config can release it"
        } else if settings.reserved.contains(name) {
            "is also in namespaces.reserved; remove it from one of the two"
        } else if !WELL_KNOWN.contains(&name.as_str()) {
            "is not a well-known platform namespace, so it is not reserved; remove it"
        } else {
            continue;
        };
        problems.push(Problem::new("namespaces.allow", format!("{name:?} {why}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_holds_and_the_well_known_list_can_be_lifted_name_by_name() {
        let mut config = Config::default();
        for name in [
            "default",
            "kube-public",
            "longhorn-system",
            "woodpecker",
            "argocd",
        ] {
            assert!(config.reserved_namespace(name).is_some(), "{name}");
        }
        assert_eq!(config.reserved_namespace("alice-dev"), None);
        config.namespaces.allow = vec!["argocd".into(), "flux-system".into(), "bob".into()];
        config.namespaces.reserved = vec!["payments".into()];
        assert_eq!(config.reserved_namespace("argocd"), None);
        assert!(config.reserved_namespace("flux-system").is_some());
        assert!(config.reserved_namespace("payments").is_some());
        let mut problems = Vec::new();
        check(&config, &mut problems);
        let text: Vec<String> = problems.iter().map(Problem::to_string).collect();
        assert_eq!(text.len(), 2, "{text:?}");
        assert!(
            text[0].contains("\"flux-system\" is always reserved"),
            "{text:?}"
        );
        assert!(text[1].contains("\"bob\" is not a well-known"), "{text:?}");
    }
}
