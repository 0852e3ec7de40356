"""The route controller: Gateway API routes kept in step with SeldonDeployments (docs/gateway-routes.md)."""
