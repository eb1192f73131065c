"""``/hooks/{deploymentId}``: signed webhooks that start a deployment's workflow."""
