variable "region" {
  description = "The AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Prefix of every resource name."
  type        = string
  default     = "eventflows-orders"
}

variable "event_source" {
  description = "The Source of the events the service publishes; the rule matches it."
  type        = string
  default     = "com.example.orders"
}

variable "bundle_dir" {
  description = "Where `bun examples/terraform/build.ts` wrote the function bundles (api/ and consumer/)."
  type        = string
  default     = "./.build"
}
