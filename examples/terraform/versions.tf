# Providers pinned to one minor line (patch releases only). Commit the .terraform.lock.hcl that
# `terraform init` writes: it records the exact versions and their checksums, so every later init
# installs the same, verified builds. Move the pins on purpose, with `terraform init -upgrade`.
terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = "~> 2.7.1"
    }
  }
}

provider "aws" {
  region = var.region
}
