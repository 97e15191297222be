"""Local Azure Functions + Durable Functions host that runs the real function app without Core Tools."""
