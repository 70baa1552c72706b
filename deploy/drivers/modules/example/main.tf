# An example module for tofu-wrapper.sh: it provisions nothing outside its
# state, so the whole flow can be tried without cloud credentials. A real
# module declares the service's parameters as variables the same way.

variable "idp_name" { type = string }
variable "idp_team" { type = string }
variable "idp_environment" { type = string }
variable "idp_request_id" { type = string }

variable "size" {
  type    = string
  default = "small"
}

resource "terraform_data" "resource" {
  input = {
    name        = var.idp_name
    team        = var.idp_team
    environment = var.idp_environment
    size        = var.size
  }
}

output "name" {
  value = "${var.idp_team}-${var.idp_environment}-${var.idp_name}"
}

output "size" {
  value = var.size
}

output "token" {
  value     = sha256("${terraform_data.resource.id}/${var.idp_request_id}")
  sensitive = true
}
