# Hand-written: the Woodpecker release. Its admin list comes from the
# generated local.tenantgen_woodpecker_admins (tenantgen.tf).

resource "helm_release" "woodpecker" {
  name       = "woodpecker"
  namespace  = "woodpecker"
  repository = "https://woodpecker-ci.org/"
  chart      = "woodpecker"
  version    = "3.2.0"

  values = [
    yamlencode({
      server = {
        env = {
          WOODPECKER_ADMIN = join(",", local.tenantgen_woodpecker_admins)
        }
      }
    })
  ]
}
