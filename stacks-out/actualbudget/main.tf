# Hand-written: the shared actualbudget service module. tenantgen never touches this
# file; it generates factory/main.tf with one module block per user.

variable "user" {
  type        = string
  description = "Username of the instance's owner (the k8s_users key)."
}

variable "domain" {
  type        = string
  description = "Public host name of the instance."
}

locals {
  instance = "actualbudget-${var.user}"
}

output "instance" {
  description = "Name of this user's actualbudget instance."
  value       = local.instance
}

output "url" {
  description = "Where the instance is served."
  value       = "https://${var.domain}"
}
