"""Built-in plugins. Each registers exactly as a third-party plugin would: copy them."""
