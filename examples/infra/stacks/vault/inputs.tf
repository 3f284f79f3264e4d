# Stand-in: upstream decodes k8s_users from the Vault secret
# secret/platform; here the same JSON string comes from a variable.

variable "k8s_users" {
  type      = string
  sensitive = true
}

locals {
  k8s_users = jsondecode(var.k8s_users)
}
