# tenantgen for the real deployment's layout (ViktorBarzin/infra at 0cd4afb6):
# the tenant code of its vault, rbac, cloudflared and woodpecker stacks,
# under the addresses and names it already has, so that Terraform moves the
# existing objects rather than replacing them. README: "Taking over an
# existing deployment".

users_file = "k8s_users.json"
out        = "stacks"
zone       = "viktorbarzin.me"

# The deployment has no factory apps.
default_apps = false

layout {
  namespaces = "vault"
  vault      = "vault"
  deployer   = "vault"
  rbac       = "rbac"
  tls        = "rbac"
  dns        = "cloudflared"
  ci         = "woodpecker"
}

vault {
  oidc_accessor         = "vault_jwt_auth_backend.oidc.accessor"
  policy_scope          = "user"
  metadata_capabilities = ["list", "read", "delete"]
}

deployer {
  mode    = "secrets-engine"
  mount   = "kubernetes"
  backend = "vault_kubernetes_secret_backend.k8s.path"
}

identity {
  extra_policies = ["sops-user-{user}"]
}

namespaces {
  labels = {
    tier                               = "4-aux"
    "resource-governance/custom-quota" = "true"
    "managed-by"                       = "vault-user-onboarding"
  }
  ignore_label_changes = ["goldilocks.fairwinds.com/vpa-update-mode"]
}

names {
  namespace_admin    = "namespace-owner-{user}"
  quota              = "user-quota"
  read_only_binding  = "oidc-ns-owner-readonly-{user}"
  power_user_binding = "oidc-power-user-readonly-{user}"
  admin_binding      = "oidc-admin-{user}"
}

# The ClusterRoles stay in the rbac stack's own module, written by hand.
namespace_owner {
  cluster_role = "oidc-namespace-owner-readonly"
}

power_user {
  cluster_role = "oidc-power-user-readonly"
}

# A copy of the shared wildcard certificate per namespace, not cert-manager.
tls {
  mode             = "module"
  module_source    = "../../modules/kubernetes/setup_tls_secret"
  module_arguments = { tls_secret_name = "var.tls_secret_name" }
}

# Proxied CNAMEs to the tunnel, named relative to the zone, for namespace-owners.
dns {
  zone_id = "var.cloudflare_zone_id"
  target_expression = "\"$${var.cloudflare_tunnel_id}.cfargotunnel.com\""   # $$ keeps ${ literal in HCL
  names   = "short"
  for     = "namespace-owners"
}

quota {
  keys = ["cpu", "memory", "memory_limits", "pods"]
}

woodpecker {
  static_admins = ["ViktorBarzin"]
}

adopt {
  legacy_resource_types = true
  module_prefix         = "module.rbac"
}

addon "sops_user" {
  template = "addons/sops-user.tf.j2"
  for      = "user"
  roles    = ["namespace-owner"]
  stack    = "vault"
}

addon "sops_key" {
  template = "addons/sops-key.tf.j2"
  for      = "namespace"
  stack    = "vault"
}

addon "dashboard" {
  template = "addons/dashboard.tf.j2"
  for      = "namespace"
  stack    = "rbac"
}

addon "user_roles" {
  template = "addons/user-roles.tf.j2"
  for      = "stack"
  stack    = "rbac"
}
