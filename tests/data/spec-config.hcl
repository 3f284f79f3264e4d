users_file = "examples/k8s_users.json"   # source when --users/--vault are not given
out        = "stacks-out"                # output root ("stacks" in a real infra repo)
zone       = "example.com"               # managed DNS zone for domains and TLS

vault {                                  # used with --vault (or when users_file is unset)
  address = "https://vault.example.com"  # default: VAULT_ADDR
  mount   = "secret"
  path    = "platform"
  key     = "k8s_users"
  auth    = "token"                      # token | kubernetes | approle
  # kubernetes_role = "tenantgen"
  # jwt_path        = "/var/run/secrets/kubernetes.io/serviceaccount/token"
  oidc_accessor = "var.tenantgen_oidc_accessor"  # expression for the OIDC mount accessor
  kubernetes_backend = "kubernetes"      # auth backend path of the deployer roles
}

identity {
  require_email = false                  # true: every user must have "email"
}

deployer {                               # the CI identity allowed to deploy (seed: Woodpecker)
  service_account = "woodpecker-deployer"
  namespace       = "woodpecker"
  ttl             = "1h"
}

quota_defaults {
  cpu                    = "2"
  memory                 = "4Gi"
  memory_limits          = "8Gi"
  storage                = "20Gi"
  pods                   = "20"
  persistentvolumeclaims = "10"
}

namespaces {
  reserved      = ["vault", "woodpecker", "cert-manager", "ingress-nginx", "monitoring"]
  require_prefix = false                 # true: a namespace must be <user> or <user>-*
  max_per_user  = 10
}

tls {
  issuer      = "letsencrypt-prod"
  issuer_kind = "ClusterIssuer"
}

dns {
  provider_version = 4                   # 4: cloudflare_record, 5: cloudflare_dns_record
  zone_id          = "var.tenantgen_cloudflare_zone_id"   # expression
  type             = "CNAME"
  target           = "ingress.example.com"
  proxied          = true
}

woodpecker {
  static_admins = ["admin"]
}

app "actualbudget" {
  domain   = "budget.{user}.{zone}"
  nfs_path = "/mnt/data/actualbudget/{user}"
}

app "freedify" {
  domain   = "music.{user}.{zone}"
  nfs_path = "/mnt/data/freedify/{user}"
}
