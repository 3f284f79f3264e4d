# Stand-in for the provider requirements Terragrunt generates
# (vault-providers.tf), reduced to the providers the tenant code uses.

terraform {
  required_providers {
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = "~> 2.38"
    }
    vault = {
      source  = "hashicorp/vault"
      version = "~> 4.8"
    }
  }
}
