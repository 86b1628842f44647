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
  description = "Where `bun examples/terraform/build.ts` wrote the function bundles (api/, consumer/ and saga-timer/)."
  type        = string
  default     = "./.build"
}

variable "jwt_issuer" {
  description = "The issuer (iss) of your identity provider's tokens. Null (the default): callers sign requests with IAM (SigV4) instead."
  type        = string
  default     = null
}

variable "jwt_audience" {
  description = "Accepted audiences (aud, or Cognito's client_id) of the tokens; at least one when jwt_issuer is set."
  type        = list(string)
  default     = []
}

variable "throttle_rate_limit" {
  description = "Steady requests per second the API stage accepts."
  type        = number
  default     = 50
}

variable "throttle_burst_limit" {
  description = "Requests the API stage accepts in a burst."
  type        = number
  default     = 100
}

variable "deletion_protection" {
  description = "Refuse to delete the event store table (turn off only for a demo you mean to destroy)."
  type        = bool
  default     = true
}

variable "customer_managed_key" {
  description = "Encrypt the table with a KMS key of this configuration's own (rotated yearly) instead of the AWS-owned key."
  type        = bool
  default     = false
}
