# Hand-written (terragrunt generates this in a real infra repo).

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
