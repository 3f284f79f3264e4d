# Reconstruction of the proxied records of
# stacks/cloudflared/modules/cloudflared/cloudflare.tf
# (cloudflared-module-cloudflare.dns-section.tf): one proxied CNAME to the
# tunnel per name, keyed by the short name. The tunnel, its configuration,
# the wildcard and the non-proxied records hold no tenant name and are left
# out. Upstream's excerpt does not show how the map is built; names map to
# themselves here.

variable "cloudflare_zone_id" { type = string }
variable "cloudflare_tunnel_id" { type = string }
variable "cloudflare_proxied_names" { type = list(string) }

locals {
  cloudflare_proxied_names_map = { for name in var.cloudflare_proxied_names : name => name }
}

resource "cloudflare_record" "dns_record" {
  for_each = local.cloudflare_proxied_names_map
  name     = each.key

  content = "${var.cloudflare_tunnel_id}.cfargotunnel.com"
  proxied = true
  ttl     = 1
  type    = "CNAME"
  zone_id = var.cloudflare_zone_id
}
