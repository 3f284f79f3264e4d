# Stand-in for the shared module modules/kubernetes/setup_tls_secret, which
# upstream does not show: a copy of the wildcard TLS secret in one namespace.
# Both the reconstruction and tenantgen's output call it.

variable "namespace" { type = string }
variable "tls_secret_name" { type = string }

resource "kubernetes_secret" "tls_secret" {
  metadata {
    name      = var.tls_secret_name
    namespace = var.namespace
  }
  type = "kubernetes.io/tls"
  data = {
    "tls.crt" = "stand-in certificate"
    "tls.key" = "stand-in key"
  }
}
