# tenantgen's settings for the bundled example: `tenantgen render` reads
# examples/k8s_users.json and writes stacks-out/. Every key is optional;
# the README's configuration reference lists them all with their defaults.

users_file = "examples/k8s_users.json"
out        = "stacks-out"
zone       = "example.com"

deployer {
  mode    = "secrets-engine"
  mount   = "kubernetes"
  ttl     = "30m"
  max_ttl = "1h"
}

dns {
  provider_version = 4
  target           = "ingress.example.com"
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
