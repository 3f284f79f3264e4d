# Stand-ins for the hand-written objects the tenant code refers to
# (vault-main.ci-and-k8s-secrets-engine.tf and the rest of main.tf).

resource "vault_jwt_auth_backend" "oidc" {
  path = "oidc"
  type = "oidc"
}

resource "vault_kubernetes_secret_backend" "k8s" {
  path = "kubernetes"
}

# Upstream also depends on helm_release.vault, which is not reconstructed.
resource "vault_mount" "transit" {
  path = "transit"
  type = "transit"
}
